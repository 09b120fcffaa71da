"""A steady load on a URL from a pod in the namespace under test (helm-mgmt's load generator, the
same one `helm-mgmt bench` uses): a fixed rate, a 5 s timeout, no retries, every refused or reset
connection, timeout and non-2xx answer counted as a failure. Start it before a scenario, stop it
after, judge the tally."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from waiting import wait_until

from helm_mgmt.bench import loadgen
from helm_mgmt.bench.loadgen import restricted_pod

__all__ = ["restricted_pod", "steady_load"]


def _phase(kubectl, namespace: str, name: str) -> str:
    return kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False).stdout


def _log(kubectl, namespace: str, name: str) -> str:
    return kubectl("logs", name, "-n", namespace, check=False).stdout


@contextmanager
def steady_load(kubectl, namespace: str, url: str, rate: int = 50, keepalive: bool = False) -> Iterator[dict]:
    """``with steady_load(...) as tally:`` loads ``url`` for the duration of the block; after it,
    ``tally`` holds ok, fail, errors (by kind), statuses (non-2xx), samples of the errors and the
    counts per second."""
    loadgen.import_image()
    name = f"load-{int(time.time() * 1000) % 10**8}"
    streams = json.dumps([loadgen.stream("load", url, rate, keepalive)])
    kubectl("apply", "-f", "-", stdin=loadgen.pod(name, namespace, ["run", streams, "90s"]))
    tally: dict = {}
    try:
        wait_until(lambda: _phase(kubectl, namespace, name) == "Running", 120, f"load pod {name} to run")
        wait_until(lambda: "loading" in _log(kubectl, namespace, name), 90, f"load pod {name} to reach {url}")
        yield tally
        kubectl("exec", name, "-n", namespace, "--", "/loadgen", "stop")
        wait_until(
            lambda: _phase(kubectl, namespace, name) in ("Succeeded", "Failed"), 60, f"load pod {name} to finish"
        )
        log = kubectl("logs", name, "-n", namespace).stdout.strip().splitlines()
        tally.update(json.loads(log[-1])["streams"]["load"])
    finally:
        kubectl("delete", "pod", name, "-n", namespace, "--wait=false", check=False)
