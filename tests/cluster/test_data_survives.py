"""Data survives what operators do to a running stack: a playlist written through the real API
and a key in Redis are still there, and the generated passwords and keys unchanged, after the
pods are deleted, after an upgrade that changes PostgreSQL's and Redis' configuration, after a
rollback of it, and after kubelet and containerd restart. The tests run in file order on one
install of the umbrella (local values) in a namespace of their own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from stackenv import LOCAL_VALUES, psql
from test_clipper_app import fetch, login

from helm_mgmt.localcluster import ensure_up, process
from helm_mgmt.release import ReleaseSpec, history, install, rollback, uninstall
from helm_mgmt.stack import prepare_cluster, restricted_namespace, wait_all_ready

NAMESPACE = "clipper-durable"
RELEASE = "clipper"
# No frontend, so no site Ingress either (the chart refuses an Ingress without the frontend).
BASE_VALUES = ["frontend.enabled=false", "ingress.enabled=false"]
CHANGED_CONFIG = ["postgres.config.workMem=8MB", "redis.config.maxmemoryPolicy=allkeys-lru"]
SECRETS = [f"{RELEASE}-postgres", f"{RELEASE}-postgres-superuser", f"{RELEASE}-redis", f"{RELEASE}-backend"]
REDIS_CLI = 'REDISCLI_AUTH="$(cat /opt/redis/secret/password)" redis-cli --no-auth-warning "$@"'
WRITTEN: dict[str, str] = {}


def sql(kubectl, query: str) -> str:
    return psql(kubectl, NAMESPACE, query).stdout.strip()


def redis(kubectl, *args: str) -> str:
    cmd = ["exec", "-n", NAMESPACE, f"{RELEASE}-redis-0", "-c", "redis", "--", "sh", "-c", REDIS_CLI, "redis-cli"]
    return kubectl(*cmd, *args).stdout.strip()


def secret_data(kubectl) -> dict[str, dict[str, str]]:
    out = kubectl("get", "secrets", "-n", NAMESPACE, "-o", "json").stdout
    return {s["metadata"]["name"]: s["data"] for s in json.loads(out)["items"] if s["metadata"]["name"] in SECRETS}


def spec(*extra: str) -> ReleaseSpec:
    return ReleaseSpec(RELEASE, NAMESPACE, values_files=[LOCAL_VALUES], set_values=[*BASE_VALUES, *extra])


@pytest.fixture(scope="module")
def stack_with_data(cluster, helm, kubectl, port_forward) -> Iterator[None]:
    prepare_cluster()
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", timeout=300)
    restricted_namespace(NAMESPACE)
    install(helm, spec())
    username = f"e2e_durable_{uuid.uuid4().hex[:8]}"
    sql(kubectl, f"INSERT INTO users (twitch_id, username, display_name) VALUES ('{username}', '{username}', 'x')")
    title = f"durable {uuid.uuid4().hex[:6]}"
    with port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080) as port:
        base = f"http://127.0.0.1:{port}"
        created = fetch(
            f"{base}/api/v1/playlists", "POST", {"title": title, "visibility": "public"}, login(base, username)
        )
        assert created.status == 201, created.body[:300]
    WRITTEN.update(playlist=created.json()["data"]["id"], title=title, key=f"durable:{uuid.uuid4().hex[:6]}")
    assert redis(kubectl, "SET", WRITTEN["key"], title) == "OK"
    assert set(secret_data(kubectl)) == set(SECRETS)
    WRITTEN["secrets"] = json.dumps(secret_data(kubectl), sort_keys=True)
    yield
    uninstall(helm, RELEASE, NAMESPACE, delete_pvcs=True)
    kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def assert_everything_kept(kubectl, port_forward) -> None:
    wait_all_ready(NAMESPACE, RELEASE, timeout=600)
    with port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080) as port:
        read = fetch(f"http://127.0.0.1:{port}/api/v1/playlists/{WRITTEN['playlist']}")
    assert read.status == 200 and read.json()["data"]["title"] == WRITTEN["title"], read.body[:300]
    assert redis(kubectl, "GET", WRITTEN["key"]) == WRITTEN["title"], "the Redis key (AOF on its volume) is gone"
    assert json.dumps(secret_data(kubectl), sort_keys=True) == WRITTEN["secrets"], "a generated secret changed"


def test_deleted_pods_come_back_with_the_data(stack_with_data, kubectl, port_forward):
    # PostgreSQL may take its whole grace period (120 s) to stop, and the volume's teardown follows.
    kubectl("delete", "pod", "-n", NAMESPACE, f"{RELEASE}-postgres-0", f"{RELEASE}-redis-0", "--wait=true", timeout=330)
    kubectl("delete", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=backend", "--wait=true")
    assert_everything_kept(kubectl, port_forward)


def test_an_upgrade_that_changes_the_servers_configuration_keeps_the_data(stack_with_data, helm, kubectl, port_forward):
    install(helm, spec(*CHANGED_CONFIG), upgrade=True)
    assert sql(kubectl, "SHOW work_mem") == "8MB", "the new PostgreSQL configuration is live"
    policy = kubectl("exec", "-n", NAMESPACE, f"{RELEASE}-redis-0", "-c", "redis", "--", "cat", "/etc/redis/redis.conf")
    assert "maxmemory-policy allkeys-lru" in policy.stdout, "the new Redis configuration is live"
    assert_everything_kept(kubectl, port_forward)


def test_a_rollback_keeps_the_data(stack_with_data, helm, kubectl, port_forward):
    before = history(helm, RELEASE, NAMESPACE)[-1]["revision"]
    rollback(helm, RELEASE, NAMESPACE)
    assert history(helm, RELEASE, NAMESPACE)[-1]["revision"] == before + 1
    assert_everything_kept(kubectl, port_forward)
    assert sql(kubectl, "SHOW work_mem") == "4MB", "the rollback brought the old configuration back"


def test_a_restart_of_kubelet_and_containerd_keeps_the_data(stack_with_data, kubectl, port_forward):
    for component in ("kubelet", "containerd"):
        assert process.stop(component), f"{component} did not stop"
    ensure_up()
    assert process.pid_of("kubelet") and process.pid_of("containerd")
    wait_until_kubelet_serves_the_pods(port_forward)
    assert_everything_kept(kubectl, port_forward)


def wait_until_kubelet_serves_the_pods(port_forward, timeout: float = 120) -> None:
    """A restarted kubelet refuses a port-forward (`unable to upgrade connection: pod does not
    exist`) until it has loaded its pods again (seen on a busy machine): wait for that, and only that."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with port_forward(NAMESPACE, f"svc/{RELEASE}-backend", 8080):
                return
        except AssertionError as err:
            if "unable to upgrade connection" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_growing_persistence_size_as_documented_keeps_the_data(stack_with_data, helm, kubectl, port_forward):
    """The postgres chart's README: resize the PVC (where the StorageClass allows it), delete the
    StatefulSet with --cascade=orphan, upgrade with the new persistence.size. The local
    provisioner cannot resize a volume, and the API server says so; the rest of the procedure
    recreates the StatefulSet with the new claim template around the running pod, without a restart."""
    statefulset, pvc = f"{RELEASE}-postgres", f"data-{RELEASE}-postgres-0"
    uid_before = kubectl("get", "pod", "-n", NAMESPACE, f"{statefulset}-0", "-o", "jsonpath={.metadata.uid}").stdout
    patch = json.dumps({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})
    resized = kubectl("patch", "pvc", pvc, "-n", NAMESPACE, "-p", patch, check=False)
    assert resized.returncode != 0 and "resize" in resized.stderr, resized.stderr
    kubectl("delete", "statefulset", statefulset, "-n", NAMESPACE, "--cascade=orphan")
    install(helm, spec("postgres.persistence.size=2Gi"), upgrade=True)
    claim = kubectl("get", "statefulset", statefulset, "-n", NAMESPACE, "-o", "json").stdout
    assert json.loads(claim)["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    uid_after = kubectl("get", "pod", "-n", NAMESPACE, f"{statefulset}-0", "-o", "jsonpath={.metadata.uid}").stdout
    assert uid_after == uid_before, "the recreated StatefulSet replaced the running pod"
    assert_everything_kept(kubectl, port_forward)
