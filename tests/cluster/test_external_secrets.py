"""The backend's Secret from the real External Secrets Operator: a release with
`backend.externalSecret.enabled` makes no Secret of its own, the operator writes it from a store
(Secrets of another namespace, read through the `kubernetes` provider with a ServiceAccount of that
namespace), the real backend starts with it, and a value rotated in the store reaches the pods
the way the chart README says: the operator rewrites the Secret, a rollout restart reads it."""

from __future__ import annotations

import base64
import json
import secrets
import string
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from rbaccheck import assert_allowed_exactly
from stackenv import STACK_VALUES
from waiting import wait_until

from helm_mgmt.localcluster import externalsecrets
from helm_mgmt.stack import restricted_namespace, wait_all_ready

RELEASE = "clipper"
REMOTE_KEY = "clipper-backend"


def _store_values() -> dict[str, str]:
    key = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, text=True, check=True).stdout
    alphabet = string.ascii_letters + string.digits
    return {
        "JWT_PRIVATE_KEY": key,
        "MFA_ENCRYPTION_KEY": "".join(secrets.choice(alphabet) for _ in range(32)),
        "TWITCH_CLIENT_SECRET": f"first-{uuid.uuid4().hex}",
    }


def _secret(name: str, namespace: str, values: dict[str, str]) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": values}
    )


@pytest.fixture
def store(kubectl) -> Iterator[tuple[str, str]]:
    """A ClusterSecretStore over Secrets of its own namespace, read by a ServiceAccount that may only
    read them there. Yields (store name, store namespace)."""
    name = f"e2e-store-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    kubectl("create", "serviceaccount", "store-reader", "-n", name)
    kubectl("create", "role", "store-reader", "-n", name, "--verb=get,list,watch", "--resource=secrets")
    kubectl(
        "create",
        "rolebinding",
        "store-reader",
        "-n",
        name,
        "--role=store-reader",
        f"--serviceaccount={name}:store-reader",
    )
    kubectl(
        "create",
        "role",
        "store-rules",
        "-n",
        name,
        "--verb=create",
        "--resource=selfsubjectrulesreviews.authorization.k8s.io",
    )
    css = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {
            "provider": {
                "kubernetes": {
                    "remoteNamespace": name,
                    "server": {
                        "caProvider": {
                            "type": "ConfigMap",
                            "name": "kube-root-ca.crt",
                            "key": "ca.crt",
                            "namespace": name,
                        }
                    },
                    "auth": {"serviceAccount": {"name": "store-reader", "namespace": name}},
                }
            }
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(css))
    kubectl("wait", f"clustersecretstore/{name}", "--for=condition=Ready", "--timeout=90s")
    yield name, name
    kubectl("delete", "clustersecretstore", name, check=False)
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def _secret_data(kubectl, namespace: str, name: str) -> dict[str, str]:
    found = json.loads(kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)
    return {k: base64.b64decode(v).decode() for k, v in found.get("data", {}).items()}


def test_the_backend_runs_on_secrets_from_the_store_and_picks_up_a_rotation(helm, kubectl, namespace, store):
    store_name, store_namespace = store
    values = _store_values()
    kubectl("apply", "-f", "-", stdin=_secret(REMOTE_KEY, store_namespace, values))
    restricted_namespace(namespace)
    sets = [
        "backend.externalSecret.enabled=true",
        f"backend.externalSecret.secretStoreRef.name={store_name}",
        "backend.externalSecret.secretStoreRef.kind=ClusterSecretStore",
        f"backend.externalSecret.remoteKey={REMOTE_KEY}",
        "backend.secrets.generate=false",
        "ingress.enabled=false",
    ]
    chart = str(STACK_VALUES[0].parents[1])
    files = [arg for path in STACK_VALUES for arg in ("-f", str(path))]
    set_args = [arg for value in sets for arg in ("--set", value)]
    helm.run(["install", RELEASE, chart, "-n", namespace, *files, *set_args], timeout=600)

    manifest = helm.run(["get", "manifest", RELEASE, "-n", namespace]).stdout
    made = [doc for doc in manifest.split("\n---") if "\nkind: Secret\n" in doc and f"name: {RELEASE}-backend\n" in doc]
    assert not made, "the chart made the backend's Secret itself"
    backend_secret = f"{RELEASE}-backend"
    wait_until(
        lambda: kubectl("get", "secret", backend_secret, "-n", namespace, check=False).returncode == 0,
        90,
        "the Secret",
        interval=2,
    )
    owner = json.loads(kubectl("get", "secret", backend_secret, "-n", namespace, "-o", "json").stdout)["metadata"]
    assert [ref["kind"] for ref in owner.get("ownerReferences", [])] == ["ExternalSecret"], owner
    data = _secret_data(kubectl, namespace, backend_secret)
    assert {key: data.get(key) for key in values} == values
    wait_all_ready(namespace, RELEASE, timeout=600)

    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=backend"

    def backend_env(key: str) -> set[str]:
        found = json.loads(kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
        # Pods on their way out (the rollout's old ones) still run the old environment.
        pods = [pod["metadata"]["name"] for pod in found if not pod["metadata"].get("deletionTimestamp")]
        exec_env = ["exec", "-n", namespace, "-c", "backend"]
        return {kubectl(*exec_env, pod, "--", "printenv", key).stdout.strip() for pod in pods}

    assert backend_env("TWITCH_CLIENT_SECRET") == {values["TWITCH_CLIENT_SECRET"]}

    # Rotate in the store; the operator rewrites the Secret (here at once: a forced sync instead of
    # waiting for refreshInterval); a rollout restart hands it to the pods.
    rotated = f"second-{uuid.uuid4().hex}"
    kubectl("apply", "-f", "-", stdin=_secret(REMOTE_KEY, store_namespace, {**values, "TWITCH_CLIENT_SECRET": rotated}))
    kubectl("annotate", "externalsecret", backend_secret, "-n", namespace, f"force-sync={time.time()}", "--overwrite")
    wait_until(
        lambda: _secret_data(kubectl, namespace, backend_secret).get("TWITCH_CLIENT_SECRET") == rotated,
        60,
        "the rotation",
        interval=2,
    )
    kubectl("rollout", "restart", f"deployment/{RELEASE}-backend", "-n", namespace)
    kubectl("rollout", "status", f"deployment/{RELEASE}-backend", "-n", namespace, "--timeout=300s", timeout=330)
    assert backend_env("TWITCH_CLIENT_SECRET") == {rotated}


def test_the_operator_runs_with_its_own_identity(kubectl) -> None:
    sa = f"system:serviceaccount:{externalsecrets.NAMESPACE}:{externalsecrets.NAME}"
    allowed = {
        ("create", "secrets"),
        ("list", "externalsecrets.external-secrets.io"),
        ("create", "serviceaccounts/token"),
    }
    denied = {("create", "pods"), ("delete", "namespaces"), ("create", "clusterrolebindings"), ("list", "nodes")}
    assert_allowed_exactly(kubectl, sa, allowed, denied)
