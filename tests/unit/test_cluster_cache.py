"""A running local cluster belongs to the build cache it was started from."""

from __future__ import annotations

import pytest

from helm_mgmt.localcluster import cluster, process
from helm_mgmt.localcluster import components as c


@pytest.fixture
def started(tmp_path, monkeypatch):
    """A cluster state folder whose components all run, started from cache ``a``."""
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setattr(c, "state_dir", lambda: state)
    monkeypatch.setattr(process, "pid_of", lambda name: 4242)
    first = tmp_path / "a"
    first.mkdir()
    (state / "started-from-cache").write_text(f"{first.resolve()}\n")
    return tmp_path


def test_the_same_cache_is_accepted(started, monkeypatch):
    monkeypatch.setenv("CLIPPER_KIT_CACHE", str(started / "a"))
    cluster.check_same_cache()


def test_another_cache_is_refused_with_both_paths_and_the_way_out(started, monkeypatch):
    monkeypatch.setenv("CLIPPER_KIT_CACHE", str(started / "b"))
    with pytest.raises(process.ComponentError) as refused:
        cluster.check_same_cache()
    message = str(refused.value)
    assert str((started / "a").resolve()) in message
    assert str((started / "b").resolve()) in message
    assert "helm-mgmt down" in message


def test_a_stopped_cluster_may_start_from_any_cache(started, monkeypatch):
    monkeypatch.setattr(process, "pid_of", lambda name: None)
    monkeypatch.setenv("CLIPPER_KIT_CACHE", str(started / "b"))
    cluster.check_same_cache()
