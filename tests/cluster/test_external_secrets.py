"""The backend's Secret from the real External Secrets Operator, configured the way `helm-mgmt up`
runs it: the local secret store (Secrets of namespace clipper-secrets, read through the
`kubernetes` provider by a ServiceAccount that may only read them there) and
`examples/values-local-external-secrets.yaml`. A release that generated its keys moves to the store
without losing them (up's path for an existing install), makes no Secret of its own afterwards, the
real backend runs on the operator's Secret, and a value rotated in the store reaches the pods the
way the chart README says: the operator rewrites the Secret, a rollout restart reads it."""

from __future__ import annotations

import base64
import json
import time
import uuid

from rbaccheck import assert_allowed_exactly, can_i
from stackenv import STACK_VALUES
from waiting import wait_until

from helm_mgmt.localcluster import externalsecrets, secretstore
from helm_mgmt.stack import restricted_namespace, wait_all_ready

RELEASE = "clipper"
BACKEND_SECRET = f"{RELEASE}-backend"
STORE_VALUES = STACK_VALUES[0].with_name("values-local-external-secrets.yaml")


def _secret_data(kubectl, namespace: str, name: str) -> dict[str, str]:
    found = json.loads(kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)
    return {k: base64.b64decode(v).decode() for k, v in found.get("data", {}).items()}


def _owners(kubectl, namespace: str) -> list[str]:
    meta = json.loads(kubectl("get", "secret", BACKEND_SECRET, "-n", namespace, "-o", "json").stdout)["metadata"]
    return [ref["kind"] for ref in meta.get("ownerReferences", [])]


def test_a_release_moves_its_keys_to_the_store_and_picks_up_a_rotation(helm, kubectl, namespace, stack):
    restricted_namespace(namespace)
    chart = str(STACK_VALUES[0].parents[1])
    files = [arg for path in STACK_VALUES for arg in ("-f", str(path))]
    no_ingress = ["--set", "ingress.enabled=false"]
    helm.run(["install", RELEASE, chart, "-n", namespace, *files, *no_ingress], timeout=600)
    generated = _secret_data(kubectl, namespace, BACKEND_SECRET)

    entry = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        copied = secretstore.seed_backend(namespace, RELEASE, entry)
        assert copied == f"copied from Secret {namespace}/{BACKEND_SECRET}"
        assert secretstore.seed_backend(namespace, RELEASE, entry) == "kept"
        twitch = f"first-{uuid.uuid4().hex}"
        keys = {key: generated[key] for key in secretstore.BACKEND_KEYS}
        secretstore.put(entry, {**keys, "TWITCH_CLIENT_SECRET": twitch})
        sets = [
            f"backend.externalSecret.remoteKey={entry}",
            "backend.externalSecret.keys={JWT_PRIVATE_KEY,MFA_ENCRYPTION_KEY,TWITCH_CLIENT_SECRET}",
        ]
        set_args = [arg for value in sets for arg in ("--set", value)]
        upgrade = ["upgrade", RELEASE, chart, "-n", namespace, *files, "-f", str(STORE_VALUES), *no_ingress]
        helm.run([*upgrade, *set_args], timeout=600)
        _runs_on_the_store(helm, kubectl, namespace, keys, twitch, entry)
    finally:
        kubectl("delete", "secret", entry, "-n", secretstore.NAMESPACE, check=False)


def test_a_new_install_gets_new_keys_in_the_store(kubectl, namespace, stack) -> None:
    entry = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        assert secretstore.seed_backend(namespace, RELEASE, entry) == "generated"
        stored = _secret_data(kubectl, secretstore.NAMESPACE, entry)
        assert sorted(stored) == sorted(secretstore.BACKEND_KEYS)
        assert stored["JWT_PRIVATE_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
        assert secretstore.seed_backend(namespace, RELEASE, entry) == "kept"
        assert _secret_data(kubectl, secretstore.NAMESPACE, entry) == stored
    finally:
        kubectl("delete", "secret", entry, "-n", secretstore.NAMESPACE, check=False)


def _runs_on_the_store(helm, kubectl, namespace: str, keys: dict[str, str], twitch: str, entry: str) -> None:
    manifest = helm.run(["get", "manifest", RELEASE, "-n", namespace]).stdout
    made = [doc for doc in manifest.split("\n---") if "\nkind: Secret\n" in doc and f"name: {BACKEND_SECRET}\n" in doc]
    assert not made, "the chart still makes the backend's Secret itself"
    # The operator takes over the Secret the chart left behind (it is kept on purpose) and fills it.
    wait_until(lambda: _owners(kubectl, namespace) == ["ExternalSecret"], 90, "the operator's Secret", 2)
    wait_until(
        lambda: _secret_data(kubectl, namespace, BACKEND_SECRET).get("TWITCH_CLIENT_SECRET") == twitch,
        90,
        "the store's values in the Secret",
        2,
    )
    data = _secret_data(kubectl, namespace, BACKEND_SECRET)
    assert {key: data.get(key) for key in keys} == keys, "the generated keys changed on the move"
    wait_all_ready(namespace, RELEASE, timeout=600)

    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=backend"

    def backend_env(key: str) -> set[str]:
        found = json.loads(kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
        # Pods on their way out (the rollout's old ones) still run the old environment.
        pods = [pod["metadata"]["name"] for pod in found if not pod["metadata"].get("deletionTimestamp")]
        exec_env = ["exec", "-n", namespace, "-c", "backend"]
        return {kubectl(*exec_env, pod, "--", "printenv", key).stdout.strip() for pod in pods}

    kubectl("rollout", "restart", f"deployment/{RELEASE}-backend", "-n", namespace)
    kubectl("rollout", "status", f"deployment/{RELEASE}-backend", "-n", namespace, "--timeout=300s", timeout=330)
    assert backend_env("TWITCH_CLIENT_SECRET") == {twitch}

    # Rotate in the store; the operator rewrites the Secret (here at once: a forced sync instead of
    # waiting for refreshInterval); a rollout restart hands it to the pods.
    rotated = f"second-{uuid.uuid4().hex}"
    secretstore.put(entry, {**keys, "TWITCH_CLIENT_SECRET": rotated})
    kubectl("annotate", "externalsecret", BACKEND_SECRET, "-n", namespace, f"force-sync={time.time()}", "--overwrite")
    wait_until(
        lambda: _secret_data(kubectl, namespace, BACKEND_SECRET).get("TWITCH_CLIENT_SECRET") == rotated,
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


def test_the_store_reader_reads_secrets_of_the_store_only(kubectl, stack) -> None:
    account = f"system:serviceaccount:{secretstore.NAMESPACE}:{secretstore.READER}"

    def may(verb: str, namespace: str) -> bool:
        return can_i(kubectl, account, verb, "secrets", namespace)

    assert may("get", secretstore.NAMESPACE) and may("list", secretstore.NAMESPACE)
    assert not may("create", secretstore.NAMESPACE) and not may("delete", secretstore.NAMESPACE)
    assert not any(may("get", other) for other in (stack, "cert-manager", "kube-system"))
