"""The load generator (``loadgen/``, Go) as an image of one static binary, and the pod that runs it.

The pod is one that Pod Security `restricted` admits, so it runs in the namespaces the
charts are installed into.
"""

from __future__ import annotations

import json
from pathlib import Path

from helm_mgmt.localcluster.imagearchive import GoBinaryImage

SOURCE = Path(__file__).with_name("loadgen")
LOADGEN = GoBinaryImage("loadgen", SOURCE)
IMAGE = LOADGEN.reference
LABELS = {"app.kubernetes.io/name": "loadgen"}
# Values that admit pods with LABELS through the backend's and frontend's NetworkPolicies.
ADMIT_VALUES = Path(__file__).with_name("values-admit-loadgen.yaml")


def import_image() -> str:
    from helm_mgmt.localcluster import containerd

    containerd.import_image(LOADGEN.archive(), IMAGE)
    return IMAGE


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


def pod(name: str, namespace: str, args: list[str], cpu_limit: str = "500m") -> str:
    """The generator's pod: ``args`` are loadgen's (``idle`` to exec runs into it later)."""
    container = {
        "name": "loadgen",
        "image": IMAGE,
        "args": args,
        "securityContext": {"readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": cpu_limit, "memory": "256Mi"}},
    }
    return restricted_pod(name, namespace, container, LABELS, [{"name": "tmp", "emptyDir": {}}])


def stream(
    name: str,
    url: str,
    rate: int,
    keepalive: bool,
    spread_clients: bool = False,
    headers: dict[str, str] | None = None,
    ca: str = "",
) -> dict:
    """One load; ``spread_clients`` gives each request an X-Forwarded-For address of its own;
    ``headers`` go with every request; ``ca`` (PEM) is the only authority an https URL is checked
    against."""
    found = {"name": name, "url": url, "rate": rate, "keepalive": keepalive, "spread_clients": spread_clients}
    return {**found, **({"headers": headers} if headers else {}), **({"ca": ca} if ca else {})}
