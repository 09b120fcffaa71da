"""A steady load on a URL from a pod in the namespace under test (the probe's `load` mode): a fixed
rate, a 5 s timeout, no retries, every refused or reset connection, timeout and non-2xx answer
counted as a failure. Start it before a scenario, stop it after, judge the tally."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import probeimage


def _pod(name: str, namespace: str, url: str, rate: int, keepalive: bool) -> str:
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "load"}},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "load",
                        "image": probeimage.IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["load", url, str(rate), "keepalive" if keepalive else "close"],
                        "securityContext": security,
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "32Mi"},
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                        },
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        }
    )


def _phase(kubectl, namespace: str, name: str) -> str:
    return kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False).stdout


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


@contextmanager
def steady_load(kubectl, namespace: str, url: str, rate: int = 50, keepalive: bool = False) -> Iterator[dict]:
    """``with steady_load(...) as tally:`` loads ``url`` for the duration of the block; after it,
    ``tally`` holds ok, fail, errors (by kind), statuses (non-2xx) and samples of the errors."""
    name = f"load-{int(time.time() * 1000) % 10**8}"
    kubectl("apply", "-f", "-", stdin=_pod(name, namespace, url, rate, keepalive))
    tally: dict = {}
    try:
        _wait(lambda: _phase(kubectl, namespace, name) == "Running", 120, f"load pod {name} to run")
        time.sleep(2)
        yield tally
        kubectl("exec", name, "-n", namespace, "--", "/probe", "write", "/tmp/stop", "stop")
        _wait(lambda: _phase(kubectl, namespace, name) in ("Succeeded", "Failed"), 60, f"load pod {name} to finish")
        log = kubectl("logs", name, "-n", namespace).stdout.strip().splitlines()
        tally.update(json.loads(log[-1]))
    finally:
        kubectl("delete", "pod", name, "-n", namespace, "--wait=false", check=False)
