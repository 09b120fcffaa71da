"""Polling until something holds, for the cluster tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(
    check: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 1.0,
    why: Callable[[], str] | None = None,
) -> None:
    """Call ``check`` every ``interval`` seconds until it returns something true; fail the test
    after ``timeout`` seconds, naming ``what`` was awaited and adding what ``why`` reports."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            detail = f"\n{why()}" if why else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
