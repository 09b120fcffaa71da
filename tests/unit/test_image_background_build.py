"""The background image build: the first images at the caller's priority, then the later ones
niced, with an event between the two; and build_all's fast path when every archive exists."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from helm_mgmt.localcluster import images


def test_later_images_are_built_niced_after_the_first_are_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    first_built = threading.Event()
    calls: list[tuple[tuple[str, ...], int, bool]] = []

    def fake_build_all(progress, *, names):
        niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        calls.append((tuple(names), niceness, first_built.is_set()))
        return {}

    monkeypatch.setattr(images, "build_all", fake_build_all)
    start = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = images.build_in_background(
        names=images.STACK_IMAGES, later=images.MONITORING_IMAGES, first_built=first_built
    )
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert calls == [
        (images.STACK_IMAGES, start, False),
        (images.MONITORING_IMAGES, max(start, images.LATER_NICENESS), True),
    ]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == start, "only the thread was niced"


def test_a_failed_first_group_still_announces_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    first_built = threading.Event()
    groups: list[tuple[str, ...]] = []

    def failing_build_all(progress, *, names):
        groups.append(tuple(names))
        raise images.ImageBuildError("image postgres: step 'debootstrap trixie' failed (exit 1)")

    messages: list[str] = []
    monkeypatch.setattr(images, "build_all", failing_build_all)
    thread = images.build_in_background(
        messages.append, names=("postgres",), later=("prometheus",), first_built=first_built
    )
    thread.join(timeout=10)
    assert first_built.is_set() and groups == [("postgres",), ("prometheus",)]
    assert messages[0] == (
        "background build failed, to be retried: image postgres: step 'debootstrap trixie' failed (exit 1)"
    )


def test_an_unknown_later_name_fails_in_the_caller() -> None:
    with pytest.raises(images.ImageBuildError, match="grafana"):
        images.build_in_background(names=("postgres",), later=("grafana",))


def test_build_all_returns_existing_archives_without_the_lock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    archive = tmp_path / "redis.tar"
    archive.write_bytes(b"archive")
    monkeypatch.setattr(images, "archive_path", lambda recipe: archive)

    def no_lock(path):
        raise AssertionError(f"took the lock {path} although every archive exists")

    monkeypatch.setattr(images, "cache_lock", no_lock)
    assert images.build_all(names=("redis",)) == {"redis": archive}
