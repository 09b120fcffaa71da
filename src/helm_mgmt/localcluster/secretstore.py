"""The local cluster's secret store: Secrets in namespace ``clipper-secrets`` stand in for a vault,
and the External Secrets Operator reads them through the ClusterSecretStore
``clipper-local-secrets`` (``kubernetes`` provider) as a ServiceAccount that may only read Secrets
there. `helm-mgmt up` keeps the backend's keys in it (entry ``clipper-backend``) and installs the
backend with an ExternalSecret (``examples/values-local-external-secrets.yaml``).
"""

from __future__ import annotations

import base64
import secrets
import string
import subprocess
import time
from typing import Any

from helm_mgmt.localcluster import addons, kubeapi, process
from helm_mgmt.localcluster.rbac import READ

NAMESPACE = "clipper-secrets"
STORE = "clipper-local-secrets"
READER = "store-reader"
BACKEND_ENTRY = "clipper-backend"
ESO = "external-secrets.io"
RBAC = "rbac.authorization.k8s.io"
# What the backend needs from the store (the values file's `externalSecret.keys`).
BACKEND_KEYS = ("JWT_PRIVATE_KEY", "MFA_ENCRYPTION_KEY")


def _role(name: str, namespace: str, rules: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    path = f"/apis/{RBAC}/v1/namespaces/{namespace}"
    meta = {"name": name, "namespace": namespace}
    return [
        (f"{path}/roles", {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": meta, "rules": rules}),
        (
            f"{path}/rolebindings",
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": READER, "namespace": namespace}],
            },
        ),
    ]


def objects(store: str = STORE, namespace: str = NAMESPACE) -> list[tuple[str, dict[str, Any]]]:
    """The store's namespace, its reader (read Secrets there, and review its own rules, which the
    provider does to validate the store) and the ClusterSecretStore."""
    read = {"apiGroups": [""], "resources": ["secrets"], "verbs": READ}
    review = {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"], "verbs": ["create"]}
    css = {
        "apiVersion": f"{ESO}/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": store},
        "spec": {
            "provider": {
                "kubernetes": {
                    "remoteNamespace": namespace,
                    "server": {
                        "caProvider": {
                            "type": "ConfigMap",
                            "name": "kube-root-ca.crt",
                            "key": "ca.crt",
                            "namespace": namespace,
                        }
                    },
                    "auth": {"serviceAccount": {"name": READER, "namespace": namespace}},
                }
            }
        },
    }
    return [
        *addons.identity(READER, namespace, []),
        *_role(READER, namespace, [read, review]),
        (f"/apis/{ESO}/v1/clustersecretstores", css),
    ]


def store_status(store: str = STORE) -> dict[str, Any]:
    return kubeapi.get_or_empty(f"/apis/{ESO}/v1/clustersecretstores/{store}")


def ensure(store: str = STORE, namespace: str = NAMESPACE, timeout: float = 90) -> None:
    """The store and its reader, and the ClusterSecretStore Ready (the operator validated it)."""
    started = time.monotonic()
    addons.apply_all(objects(store, namespace))
    addons.wait_until(
        lambda: kubeapi.condition_true(store_status(store), "Ready"),
        timeout,
        f"ClusterSecretStore {store} Ready",
        lambda: str(store_status(store).get("status", {}).get("conditions", "no status")),
    )
    process.progress(f"secret store {store} ready after {time.monotonic() - started:.0f}s")


def _get_secret(namespace: str, name: str) -> dict[str, str] | None:
    try:
        found = kubeapi.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    except kubeapi.ApiError as err:
        if err.status == 404:
            return None
        raise
    return {key: base64.b64decode(value).decode() for key, value in found.get("data", {}).items()}


def put(entry: str, values: dict[str, str], namespace: str = NAMESPACE) -> None:
    """Write (or overwrite) an entry of the store."""
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": entry, "namespace": namespace}}
    kubeapi.apply(f"/api/v1/namespaces/{namespace}/secrets", {**body, "stringData": values})


def generated_backend_keys() -> dict[str, str]:
    """New keys: an RSA key that signs login tokens (4096 bits, as the chart generates) and a
    32-character MFA encryption key."""
    key = subprocess.run(["openssl", "genrsa", "4096"], capture_output=True, text=True, check=True).stdout
    alphabet = string.ascii_letters + string.digits
    return {"JWT_PRIVATE_KEY": key, "MFA_ENCRYPTION_KEY": "".join(secrets.choice(alphabet) for _ in range(32))}


def seed_backend(release_namespace: str, release: str, entry: str = BACKEND_ENTRY) -> str:
    """Make sure the store holds the backend's keys and say where they came from. An entry already
    there is kept. Otherwise the keys of the release's own Secret (a release that generated them
    before it moved to the store) are copied, so its users' MFA secrets and sessions stay valid;
    only a new install gets new keys."""
    if _get_secret(NAMESPACE, entry) is not None:
        return "kept"
    current = _get_secret(release_namespace, f"{release}-backend") or {}
    if all(current.get(key) for key in BACKEND_KEYS):
        put(entry, {key: current[key] for key in BACKEND_KEYS})
        return f"copied from Secret {release_namespace}/{release}-backend"
    put(entry, generated_backend_keys())
    return "generated"
