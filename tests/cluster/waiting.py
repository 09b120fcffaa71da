"""Polling until something holds, for the cluster tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 1.0) -> None:
    """Call ``check`` every ``interval`` seconds until it returns something true; fail the test
    after ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
