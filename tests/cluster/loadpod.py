"""A steady load on a URL from a pod in the namespace under test (the probe's `load` mode): a fixed
rate, a 5 s timeout, no retries, every refused or reset connection, timeout and non-2xx answer
counted as a failure. Start it before a scenario, stop it after, judge the tally."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import probeimage


def restricted_pod(name: str, namespace: str, container: dict, labels: dict | None = None, volumes=None) -> str:
    """A one-shot pod that Pod Security `restricted` admits: uid 10001, seccomp RuntimeDefault, no
    privilege escalation, every capability dropped; ``container`` adds its image, command and more."""
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    spec = {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "imagePullPolicy": "IfNotPresent",
                **container,
                "securityContext": {**security, **container.get("securityContext", {})},
            }
        ],
    }
    if volumes:
        spec["volumes"] = volumes
    metadata = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})


def _pod(name: str, namespace: str, url: str, rate: int, keepalive: bool) -> str:
    container = {
        "name": "load",
        "image": probeimage.IMAGE,
        "args": ["load", url, str(rate), "keepalive" if keepalive else "close"],
        "securityContext": {"readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
    }
    volumes = [{"name": "tmp", "emptyDir": {}}]
    return restricted_pod(name, namespace, container, {"app.kubernetes.io/name": "load"}, volumes)


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
