"""What the pod-based add-ons of the local cluster share: their CRDs and objects applied
server-side (a second run changes nothing), and a wait for their Deployment that says why it failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from helm_mgmt.localcluster import kubeapi, process

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
RBAC_API = "rbac.authorization.k8s.io/v1"


def apply_crds(crds: list[dict[str, Any]], what: str) -> None:
    for crd in crds:
        kubeapi.apply(CRDS, crd)
    names = [crd["metadata"]["name"] for crd in crds]
    process.wait_for("kube-apiserver", lambda: _established(names), 60, f"{what} CRDs Established")


def _established(names: list[str]) -> bool:
    return all(kubeapi.condition_true(kubeapi.request("GET", f"{CRDS}/{name}"), "Established") for name in names)


def identity(name: str, namespace: str, rules: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The add-on's namespace, ServiceAccount and a ClusterRole ``clipper-kit:<name>`` bound to it;
    no role at all without ``rules``."""
    role = f"clipper-kit:{name}"
    rbac = f"/apis/{RBAC_API}"
    account = [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        (
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}},
        ),
    ]
    if not rules:
        return account
    return [
        *account,
        (
            f"{rbac}/clusterroles",
            {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": role}, "rules": rules},
        ),
        (
            f"{rbac}/clusterrolebindings",
            {
                "apiVersion": RBAC_API,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": role},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        ),
    ]


RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def deployment(
    name: str,
    namespace: str,
    container: dict[str, Any],
    recreate: bool = False,
    mounts: dict[str, tuple[str, dict[str, Any]]] | None = None,
    api_token: bool = True,
) -> dict[str, Any]:
    """One replica of ``container`` (made restricted-compliant) running as the ServiceAccount ``name``.
    ``mounts`` maps a volume name to (mount path, volume source), mounted read-only beside ``/tmp``.
    Without ``api_token`` (an add-on that never calls the API) no token is mounted."""
    labels = {"app.kubernetes.io/name": name}
    extra = mounts or {}
    pod: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": api_token,
        "terminationGracePeriodSeconds": 10,
        "containers": [
            {
                "name": name,
                "imagePullPolicy": "IfNotPresent",
                **container,
                "securityContext": RESTRICTED_CONTAINER,
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    *({"name": vol, "mountPath": path, "readOnly": True} for vol, (path, _) in extra.items()),
                ],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, *({"name": vol, **src} for vol, (_, src) in extra.items())],
    }
    from helm_mgmt.localcluster.images import key_of_reference

    template: dict[str, Any] = {"labels": labels}
    key = key_of_reference(container["image"])
    if key:
        # Our images keep their tag when rebuilt: a new key is what makes a running add-on restart.
        template["annotations"] = {"clipper-kit.local/image-key": key}
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {"metadata": template, "spec": pod},
    }
    if recreate:
        spec["strategy"] = {"type": "Recreate"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def service(name: str, namespace: str, ports: dict[str, int]) -> dict[str, Any]:
    """A Service in front of the add-on's pods: each port (name -> number) goes to the container
    port of the same name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [
                {"name": port, "port": number, "targetPort": port, "protocol": "TCP"} for port, number in ports.items()
            ],
        },
    }


def apply_all(objects: list[tuple[str, dict[str, Any]]]) -> None:
    for collection, body in objects:
        kubeapi.apply(collection, body)


def _ready(name: str, namespace: str) -> bool:
    found = kubeapi.get_or_empty(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    if not found:
        return False
    status = found.get("status", {})
    return status.get("observedGeneration") == found["metadata"]["generation"] and all(
        status.get(key) == 1 for key in ("replicas", "updatedReplicas", "readyReplicas")
    )


def _why(name: str, namespace: str) -> str:
    """Each of the add-on's pods: phase and its containers' waiting or terminated reasons."""
    selector = f"app.kubernetes.io/name%3D{name}"
    pods = kubeapi.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")
    lines = []
    for pod in pods.get("items", []):
        status = pod.get("status", {})
        states = [s.get("state", {}) for s in status.get("containerStatuses", [])]
        reasons = [f"{k}: {v.get('reason', '')} {v.get('message', '')}".strip() for st in states for k, v in st.items()]
        lines.append(f"{pod['metadata']['name']} {status.get('phase')} {'; '.join(reasons)}")
    return "\n  ".join(lines) or "no pod"


def wait_until(check: Callable[[], bool], timeout: float, what: str, why: Callable[[], str]) -> None:
    """Poll ``check`` each second; past ``timeout`` fail with ``what`` and what ``why`` says (the
    add-ons run in pods: there is no host log to point at)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise process.ComponentError(f"{what} not reached after {timeout:.0f}s:\n  {why()}")
        time.sleep(1)
    process.progress(f"{what} after {time.monotonic() - started:.0f}s")


def wait_ready(name: str, namespace: str, timeout: float = 180) -> None:
    wait_until(lambda: _ready(name, namespace), timeout, f"{namespace}/{name} Ready", lambda: _why(name, namespace))
