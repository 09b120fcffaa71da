"""Rendered-manifest assertions for the redis chart (standalone Redis for cache, sessions, pub/sub)."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from charttest import chart_label, container, env_map, find, find_all, free_port, render, selector
from fakekube import LOOKUP_HELMS, FakeKube, render_with_lookup
from servers.support import ensure_debian_packages

from helm_mgmt.helm import HelmError

pytestmark = pytest.mark.helm
# The fake_kube_api fixture: a stand-in API server for renders that look up earlier Secrets.
pytest_plugins = ["fakekube"]

CHART = "redis"
FULL = "clipper-redis"
SERVER_SELECTOR = selector("redis", "server")
BACKEND_SELECTOR = selector("backend")
TEST_SELECTOR = {**SERVER_SELECTOR, "app.kubernetes.io/component": "test"}
ENVS = [None, "staging", "production"]


def sts(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "StatefulSet", FULL)


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return sts(docs)["spec"]["template"]["spec"]


def redis_conf(docs: list[dict[str, Any]]) -> str:
    return find(docs, "ConfigMap", FULL)["data"]["redis.conf"]


def conf_lines(docs: list[dict[str, Any]]) -> list[str]:
    return [line.strip() for line in redis_conf(docs).splitlines() if line.strip() and not line.startswith("#")]


def conf_value(docs: list[dict[str, Any]], directive: str) -> str:
    values = [line.split(" ", 1)[1] for line in conf_lines(docs) if line.split(" ", 1)[0] == directive]
    assert len(values) == 1, f"{directive} appears {len(values)} times in redis.conf"
    return values[0]


def helm_test_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Pod", f"{FULL}-test-ping")


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return render(CHART)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(CHART, env="production")


# --- workload shape ---------------------------------------------------------------------------


def test_objects_rendered(default: list[dict[str, Any]]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in default)
    assert kinds == sorted(
        [
            ("ConfigMap", FULL),
            ("NetworkPolicy", FULL),
            ("NetworkPolicy", f"{FULL}-test"),
            ("Pod", f"{FULL}-test-ping"),
            ("Secret", FULL),
            ("Service", FULL),
            ("Service", f"{FULL}-headless"),
            ("ServiceAccount", FULL),
            ("StatefulSet", FULL),
        ]
    )
    assert not find_all(default, "PersistentVolumeClaim"), "data must come from volumeClaimTemplates"
    assert not find_all(default, "PodDisruptionBudget"), "one replica: a PDB would block drains or do nothing"
    assert not find_all(default, "Deployment")


@pytest.mark.parametrize("env", ENVS)
def test_every_object_in_release_namespace_with_labels(env: str | None) -> None:
    docs = render(CHART, env=env, namespace="clipper-x")
    for d in docs:
        assert d["metadata"]["namespace"] == "clipper-x", d["metadata"]["name"]
        labels = d["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "clipper"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == chart_label("redis")
        assert labels["app.kubernetes.io/version"] == "7.4.2"


def test_statefulset_standalone(default: list[dict[str, Any]]) -> None:
    s = sts(default)["spec"]
    assert s["replicas"] == 1
    assert s["serviceName"] == f"{FULL}-headless"
    assert s["selector"]["matchLabels"] == SERVER_SELECTOR
    assert s["updateStrategy"] == {"type": "RollingUpdate"}
    assert s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    template_labels = s["template"]["metadata"]["labels"]
    assert SERVER_SELECTOR.items() <= template_labels.items()


def test_image_contract(default: list[dict[str, Any]]) -> None:
    c = container(pod(default), "redis")
    assert c["image"] == "docker.io/library/redis:7.4.2-alpine"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["command"] == ["sh", "/etc/redis/start.sh"]
    assert "args" not in c
    assert c["workingDir"] == "/data"
    assert c["ports"] == [{"name": "tcp-redis", "containerPort": 6379, "protocol": "TCP"}]
    start = find(default, "ConfigMap", FULL)["data"]["start.sh"]
    assert start.rstrip().endswith('exec redis-server /etc/redis/redis.conf "$@"')


def test_digest_wins_and_registry_override() -> None:
    digest = "sha256:" + "a" * 64
    docs = render(CHART, {"image": {"digest": digest}, "global": {"imageRegistry": "mirror.example.com"}})
    assert container(pod(docs), "redis")["image"] == f"mirror.example.com/library/redis@{digest}"
    assert container(helm_test_pod(docs)["spec"], "ping")["image"] == f"mirror.example.com/library/redis@{digest}"


def test_extra_args_and_env() -> None:
    docs = render(
        CHART,
        {
            "extraArgs": ["--loglevel", "verbose"],
            "extraEnv": [{"name": "B", "value": "x"}, {"name": "A", "value": "1"}],
        },
    )
    c = container(pod(docs), "redis")
    assert c["args"] == ["--loglevel", "verbose"]
    assert [e["name"] for e in c["env"]] == ["B", "A"], "extraEnv is added as given, in order"
    assert env_map(c) == {"A": "1", "B": "x"}


def test_scheduling_knobs() -> None:
    values = {
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {}}
        ],
        "priorityClassName": "clipper-critical",
        "podLabels": {"team": "platform"},
        "podAnnotations": {"note": "x"},
        "imagePullSecrets": ["regcred"],
        "global": {"imagePullSecrets": [{"name": "regcred"}, "other"]},
        "commonLabels": {"cost-center": "42"},
    }
    docs = render(CHART, values)
    p = pod(docs)
    assert p["nodeSelector"] == {"disk": "ssd"}
    assert p["tolerations"][0]["key"] == "k"
    assert p["priorityClassName"] == "clipper-critical"
    assert p["topologySpreadConstraints"][0]["topologyKey"] == "zone"
    assert p["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
    meta = sts(docs)["spec"]["template"]["metadata"]
    assert meta["labels"]["team"] == "platform"
    assert meta["annotations"]["note"] == "x"
    assert all(d["metadata"]["labels"]["cost-center"] == "42" for d in docs)


# --- redis.conf ------------------------------------------------------------------------------


def test_redis_conf_defaults(default: list[dict[str, Any]]) -> None:
    assert conf_value(default, "bind") == "0.0.0.0"
    assert conf_value(default, "port") == "6379"
    assert conf_value(default, "protected-mode") == "yes"
    assert conf_value(default, "dir") == "/data"
    assert conf_value(default, "appendonly") == "yes"
    assert conf_value(default, "appendfsync") == "everysec"
    assert conf_value(default, "maxmemory-policy") == "volatile-lru"
    saves = [line for line in conf_lines(default) if line.startswith("save ")]
    assert saves == ["save 3600 1", "save 300 100", "save 60 10000"]
    renames = [line for line in conf_lines(default) if line.startswith("rename-command")]
    assert renames == [f'rename-command {c} ""' for c in ("FLUSHALL", "FLUSHDB", "CONFIG", "DEBUG")]
    assert conf_lines(default)[-1] == "include /run/redis/auth.conf", "the password include must come last"


def test_configmap_holds_no_password(default: list[dict[str, Any]]) -> None:
    secret = find(default, "Secret", FULL)
    password = base64.b64decode(secret["data"]["redis-password"]).decode()
    cm = find(default, "ConfigMap", FULL)
    for text in cm["data"].values():
        assert password not in text
    assert not any(line.startswith("requirepass") for line in conf_lines(default))


@pytest.mark.parametrize(
    ("env", "limit_bytes"),
    [(None, 512 * 1024**2), ("staging", 256 * 1024**2), ("production", 1024**3)],
)
def test_maxmemory_is_75_percent_of_limit(env: str | None, limit_bytes: int) -> None:
    docs = render(CHART, env=env)
    assert int(conf_value(docs, "maxmemory")) == limit_bytes * 75 // 100
    assert int(conf_value(docs, "maxmemory")) < limit_bytes


def test_production_maxmemory_exact(production: list[dict[str, Any]]) -> None:
    assert conf_value(production, "maxmemory") == "805306368"  # 768Mi of the 1Gi limit


@pytest.mark.parametrize(
    ("limit", "percent", "expected"),
    [
        ("1G", 50, 500_000_000),
        ("2048Ki", 50, 1024 * 1024),
        ("1.5Gi", 60, int(1.5 * 1024**3) * 60 // 100),
        ("800M", 75, 600_000_000),
        ("1073741824", 10, 107374182),
    ],
)
def test_maxmemory_parses_quantities(limit: str, percent: int, expected: int) -> None:
    docs = render(
        CHART,
        {"resources": {"limits": {"memory": limit}}, "config": {"maxmemoryPercent": percent}},
    )
    assert int(conf_value(docs, "maxmemory")) == expected


def test_explicit_maxmemory_below_limit() -> None:
    docs = render(CHART, {"config": {"maxmemory": "400Mi"}})
    assert int(conf_value(docs, "maxmemory")) == 400 * 1024**2


def test_config_knobs() -> None:
    docs = render(
        CHART,
        {
            "config": {
                "maxmemoryPolicy": "allkeys-lru",
                "appendfsync": "always",
                "save": [],
                "disableCommands": ["keys"],
                "timeout": 30,
                "extraConfig": "hz 20\nlazyfree-lazy-eviction yes",
            }
        },
    )
    assert conf_value(docs, "maxmemory-policy") == "allkeys-lru"
    assert conf_value(docs, "appendfsync") == "always"
    assert conf_value(docs, "save") == '""', "an empty save list disables RDB snapshots"
    assert conf_value(docs, "rename-command") == 'KEYS ""'
    assert conf_value(docs, "timeout") == "30"
    assert conf_value(docs, "hz") == "20"
    lines = conf_lines(docs)
    assert lines.index("hz 20") < lines.index("include /run/redis/auth.conf")


# --- password and Secret -----------------------------------------------------------------------


def password_volume(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(v for v in pod(docs)["volumes"] if v["name"] == "password")


def test_chart_made_secret(default: list[dict[str, Any]]) -> None:
    secret = find(default, "Secret", FULL)
    assert list(secret["data"]) == ["redis-password"]
    assert len(base64.b64decode(secret["data"]["redis-password"])) == 32
    vol = password_volume(default)
    assert vol["secret"]["secretName"] == FULL
    assert vol["secret"]["items"] == [{"key": "redis-password", "path": "password"}]
    assert vol["secret"]["defaultMode"] == 0o440


def test_explicit_password() -> None:
    docs = render(CHART, {"auth": {"password": "s3cret"}})
    assert base64.b64decode(find(docs, "Secret", FULL)["data"]["redis-password"]) == b"s3cret"


def test_existing_secret() -> None:
    docs = render(CHART, {"auth": {"existingSecret": "vault-redis", "passwordKey": "pw"}})
    assert not find_all(docs, "Secret")
    assert password_volume(docs)["secret"] == {
        "secretName": "vault-redis",
        "defaultMode": 0o440,
        "items": [{"key": "pw", "path": "password"}],
    }
    test_vol = next(v for v in helm_test_pod(docs)["spec"]["volumes"] if v["name"] == "password")
    assert test_vol["secret"]["secretName"] == "vault-redis"


def test_global_secret_wins() -> None:
    docs = render(CHART, {"global": {"redis": {"existingSecret": "shared", "passwordKey": "redis-pass"}}})
    assert not find_all(docs, "Secret")
    assert password_volume(docs)["secret"]["secretName"] == "shared"
    assert password_volume(docs)["secret"]["items"][0]["key"] == "redis-pass"


def test_global_key_names_chart_made_secret_key() -> None:
    docs = render(CHART, {"global": {"redis": {"passwordKey": "REDIS_PASSWORD"}}})
    assert list(find(docs, "Secret", FULL)["data"]) == ["REDIS_PASSWORD"]
    assert password_volume(docs)["secret"]["items"][0]["key"] == "REDIS_PASSWORD"


def test_no_secret_in_env(default: list[dict[str, Any]]) -> None:
    for c in pod(default)["containers"] + helm_test_pod(default)["spec"]["containers"]:
        for e in c.get("env", []):
            assert "secretKeyRef" not in e.get("valueFrom", {}), f"{c['name']} gets {e['name']} from a Secret env"
        assert not any(part == "-a" for part in c.get("command", []))


def test_start_script_writes_requirepass_to_memory_include(default: list[dict[str, Any]]) -> None:
    start = find(default, "ConfigMap", FULL)["data"]["start.sh"]
    assert "umask 0077" in start
    assert "cat /opt/redis/secret/password" in start
    assert "> /run/redis/auth.conf" in start
    run = next(v for v in pod(default)["volumes"] if v["name"] == "run")
    assert run["emptyDir"]["medium"] == "Memory"


def test_auth_disabled_with_explicit_opt_in() -> None:
    docs = render(CHART, {"auth": {"enabled": False, "allowUnauthenticated": True}, "config": {"protectedMode": False}})
    assert not find_all(docs, "Secret")
    assert conf_value(docs, "protected-mode") == "no"
    assert "include /run/redis/auth.conf" not in conf_lines(docs)
    assert all(v["name"] != "password" for v in pod(docs)["volumes"])
    ping = find(docs, "ConfigMap", FULL)["data"]["ping.sh"]
    assert "REDISCLI_AUTH" not in ping


# --- probes ----------------------------------------------------------------------------------


def test_probes(default: list[dict[str, Any]]) -> None:
    c = container(pod(default), "redis")
    assert c["startupProbe"]["exec"]["command"] == ["sh", "/etc/redis/ping.sh", "liveness"]
    assert c["livenessProbe"]["exec"]["command"] == ["sh", "/etc/redis/ping.sh", "liveness"]
    assert c["readinessProbe"]["exec"]["command"] == ["sh", "/etc/redis/ping.sh", "readiness"]
    assert {k: v for k, v in c["livenessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
        "successThreshold": 1,
    }
    assert {k: v for k, v in c["readinessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
        "successThreshold": 1,
    }
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 300, "5 minutes to start answering"


def test_ping_script_authenticates_via_env(default: list[dict[str, Any]]) -> None:
    ping = find(default, "ConfigMap", FULL)["data"]["ping.sh"]
    assert 'REDISCLI_AUTH="$(cat /opt/redis/secret/password)"' in ping
    assert "export REDISCLI_AUTH" in ping
    assert "redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 ping" in ping
    assert "PONG) exit 0" in ping
    assert " -a " not in ping


@pytest.mark.parametrize(
    ("answer", "liveness_ok", "readiness_ok"),
    [
        ("PONG", True, True),
        ("LOADING Redis is loading the dataset in memory", True, False),
        ("NOAUTH Authentication required.", False, False),
        ("WRONGPASS invalid username-password pair or user is disabled.", False, False),
        ("Could not connect to Redis at 127.0.0.1:6379: Connection refused", False, False),
    ],
)
def test_ping_script_verdicts(
    default: list[dict[str, Any]], tmp_path: Path, answer: str, liveness_ok: bool, readiness_ok: bool
) -> None:
    """Run the chart's ping.sh against a stand-in redis-cli that prints `answer` and records its env."""
    (tmp_path / "password").write_text("from-the-secret")
    fake = tmp_path / "redis-cli"
    fake.write_text(f'#!/bin/sh\necho "$REDISCLI_AUTH $*" > {tmp_path}/seen\necho "{answer}"\n')
    fake.chmod(0o755)
    script = tmp_path / "ping.sh"
    ping = find(default, "ConfigMap", FULL)["data"]["ping.sh"]
    script.write_text(ping.replace("/opt/redis/secret", str(tmp_path)))
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    for mode, ok in (("liveness", liveness_ok), ("readiness", readiness_ok)):
        result = subprocess.run(["sh", str(script), mode], env=env, capture_output=True, text=True)
        assert (result.returncode == 0) is ok, f"{mode} with {answer!r}: rc={result.returncode} {result.stderr}"
        seen = (tmp_path / "seen").read_text().strip()
        assert seen == "from-the-secret --no-auth-warning -h 127.0.0.1 -p 6379 ping"


def test_probes_can_be_disabled_and_tuned() -> None:
    docs = render(CHART, {"startupProbe": {"enabled": False}, "readinessProbe": {"periodSeconds": 7}})
    c = container(pod(docs), "redis")
    assert "startupProbe" not in c
    assert c["readinessProbe"]["periodSeconds"] == 7


# --- resources and security -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "requests", "limits"),
    [
        (None, {"cpu": "100m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("staging", {"cpu": "50m", "memory": "128Mi"}, {"cpu": "250m", "memory": "256Mi"}),
        ("production", {"cpu": "250m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "1Gi"}),
    ],
)
def test_resources_per_environment(env: str | None, requests: dict[str, str], limits: dict[str, str]) -> None:
    c = container(pod(render(CHART, env=env)), "redis")
    assert c["resources"] == {"requests": requests, "limits": limits}


def all_containers(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pods = [pod(docs), helm_test_pod(docs)["spec"]]
    return [(p, c) for p in pods for c in p["containers"] + p.get("initContainers", [])]


@pytest.mark.parametrize("env", ENVS)
def test_security_contexts_everywhere(env: str | None) -> None:
    docs = render(CHART, env=env)
    for p, c in all_containers(docs):
        assert p["automountServiceAccountToken"] is False
        psc = p["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["runAsUser"] == 999 and psc["runAsGroup"] == 999 and psc["fsGroup"] == 999
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] > 0 and sc["runAsGroup"] > 0
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_writable_paths_are_volumes(default: list[dict[str, Any]]) -> None:
    mounts = {m["mountPath"]: m for m in container(pod(default), "redis")["volumeMounts"]}
    assert set(mounts) == {"/data", "/etc/redis", "/run/redis", "/tmp", "/opt/redis/secret"}
    assert mounts["/etc/redis"]["readOnly"] is True
    assert mounts["/opt/redis/secret"]["readOnly"] is True
    volumes = {v["name"] for v in pod(default)["volumes"]}
    assert {m["name"] for m in mounts.values()} - volumes == {"data"}, "data comes from volumeClaimTemplates"


def test_service_account(default: list[dict[str, Any]]) -> None:
    sa = find(default, "ServiceAccount", FULL)
    assert sa["automountServiceAccountToken"] is False
    assert pod(default)["serviceAccountName"] == FULL
    docs = render(CHART, {"serviceAccount": {"create": False}})
    assert not find_all(docs, "ServiceAccount")
    assert pod(docs)["serviceAccountName"] == "default"


def test_checkov_skips_are_reasoned(default: list[dict[str, Any]]) -> None:
    for obj in (sts(default), helm_test_pod(default)):
        skips = {k: v for k, v in obj["metadata"]["annotations"].items() if k.startswith("checkov.io/skip")}
        assert skips, obj["metadata"]["name"]
        for value in skips.values():
            check, reason = value.split("=", 1)
            assert check.startswith("CKV_K8S_") and len(reason) > 20
    sts_checks = {v.split("=")[0] for k, v in sts(default)["metadata"]["annotations"].items() if "skip" in k}
    assert sts_checks == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_40"}, "CKV_K8S_35 is skipped only with the exporter"


# --- persistence -----------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "size"), [(None, "5Gi"), ("staging", "5Gi"), ("production", "10Gi")])
def test_volume_claim_template(env: str | None, size: str) -> None:
    s = sts(render(CHART, env=env))["spec"]
    (vct,) = s["volumeClaimTemplates"]
    assert vct["metadata"]["name"] == "data"
    assert vct["metadata"]["labels"] == SERVER_SELECTOR, "only immutable selector labels on the claim template"
    assert vct["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert vct["spec"]["resources"]["requests"]["storage"] == size
    assert "storageClassName" not in vct["spec"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"persistence": {"storageClassName": "fast"}}, "fast"),
        ({"global": {"storageClass": "shared"}}, "shared"),
        ({"global": {"storageClass": "shared"}, "persistence": {"storageClassName": "shared"}}, "shared"),
        ({"persistence": {"storageClassName": "-"}}, ""),
    ],
)
def test_storage_class(values: dict[str, Any], expected: str) -> None:
    (vct,) = sts(render(CHART, values))["spec"]["volumeClaimTemplates"]
    assert vct["spec"]["storageClassName"] == expected


def test_persistence_options() -> None:
    docs = render(
        CHART,
        {
            "persistence": {
                "accessMode": "ReadWriteOncePod",
                "annotations": {"backup": "yes"},
                "retentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            }
        },
    )
    s = sts(docs)["spec"]
    assert s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert s["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert s["volumeClaimTemplates"][0]["metadata"]["annotations"] == {"backup": "yes"}


def test_persistence_disabled_uses_emptydir() -> None:
    docs = render(CHART, {"persistence": {"enabled": False}})
    s = sts(docs)["spec"]
    assert "volumeClaimTemplates" not in s
    assert "persistentVolumeClaimRetentionPolicy" not in s
    data = next(v for v in s["template"]["spec"]["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    mounts = container(s["template"]["spec"], "redis")["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts


# --- services --------------------------------------------------------------------------------


def test_services(default: list[dict[str, Any]]) -> None:
    svc = find(default, "Service", FULL)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "tcp-redis", "port": 6379, "targetPort": "tcp-redis", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == SERVER_SELECTOR
    headless = find(default, "Service", f"{FULL}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["ports"][0]["name"] == "tcp-redis"
    assert headless["spec"]["selector"] == SERVER_SELECTOR
    assert sts(default)["spec"]["serviceName"] == headless["metadata"]["name"]


def test_service_port_configurable() -> None:
    docs = render(CHART, {"service": {"port": 16379}})
    assert find(docs, "Service", FULL)["spec"]["ports"][0]["port"] == 16379
    assert "-p 16379 ping" in container(helm_test_pod(docs)["spec"], "ping")["command"][2]


def test_release_name_drives_names() -> None:
    docs = render(CHART, release="acme")
    assert find(docs, "Service", "acme-redis")
    assert find(docs, "Secret", "acme-redis")
    np = find(docs, "NetworkPolicy", "acme-redis")
    client = np["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert client == selector("backend", instance="acme")


# --- checksums -------------------------------------------------------------------------------


def annotations(docs: list[dict[str, Any]]) -> dict[str, str]:
    return sts(docs)["spec"]["template"]["metadata"]["annotations"]


def test_checksum_config_follows_config() -> None:
    base = annotations(render(CHART, {"auth": {"password": "p"}}))
    changed = annotations(render(CHART, {"auth": {"password": "p"}, "config": {"maxmemoryPolicy": "allkeys-lru"}}))
    assert base["checksum/config"] != changed["checksum/config"]
    assert base["checksum/secret"] == changed["checksum/secret"]


def test_checksum_secret_follows_password_and_matches_secret() -> None:
    one = render(CHART, {"auth": {"password": "one"}})
    two = render(CHART, {"auth": {"password": "two"}})
    assert annotations(one)["checksum/secret"] != annotations(two)["checksum/secret"]
    assert annotations(one)["checksum/config"] == annotations(two)["checksum/config"]
    again = render(CHART, {"auth": {"password": "one"}})
    assert annotations(one)["checksum/secret"] == annotations(again)["checksum/secret"]


def test_checksum_secret_follows_existing_secret_reference() -> None:
    a = annotations(render(CHART, {"auth": {"existingSecret": "a"}}))
    b = annotations(render(CHART, {"auth": {"existingSecret": "b"}}))
    assert a["checksum/secret"] != b["checksum/secret"]


# --- NetworkPolicy ---------------------------------------------------------------------------


def test_network_policy_defaults(default: list[dict[str, Any]]) -> None:
    np = find(default, "NetworkPolicy", FULL)["spec"]
    assert np["podSelector"]["matchLabels"] == SERVER_SELECTOR
    assert np["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = np["ingress"]
    assert rule["ports"] == [{"port": "tcp-redis", "protocol": "TCP"}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": BACKEND_SELECTOR}},
        {"podSelector": {"matchLabels": TEST_SELECTOR}},
    ]
    assert np["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


def test_network_policy_knobs() -> None:
    extra_in = {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]}
    extra_out = {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 6379}]}
    dns_to = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    docs = render(
        CHART,
        {
            "networkPolicy": {
                "clientPodLabels": {"app": "worker"},
                "extraIngress": [extra_in],
                "extraEgress": [extra_out],
                "dns": {"to": dns_to},
            }
        },
    )
    np = find(docs, "NetworkPolicy", FULL)["spec"]
    assert np["ingress"][0]["from"][0] == {"podSelector": {"matchLabels": {"app": "worker"}}}
    assert np["ingress"][-1] == extra_in
    assert np["egress"][0]["to"] == dns_to
    assert np["egress"][-1] == extra_out


def test_network_policy_disabled() -> None:
    docs = render(CHART, {"networkPolicy": {"enabled": False}})
    assert not find_all(docs, "NetworkPolicy")


def test_test_pod_network_policy(default: list[dict[str, Any]]) -> None:
    np = find(default, "NetworkPolicy", f"{FULL}-test")
    assert np["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert int(np["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        helm_test_pod(default)["metadata"]["annotations"]["helm.sh/hook-weight"]
    ), "the policy must exist before the test pod runs"
    spec = np["spec"]
    assert spec["podSelector"]["matchLabels"] == TEST_SELECTOR
    assert spec["ingress"] == []
    assert spec["egress"][1] == {
        "to": [{"podSelector": {"matchLabels": SERVER_SELECTOR}}],
        "ports": [{"port": 6379, "protocol": "TCP"}],
    }
    assert TEST_SELECTOR.items() <= helm_test_pod(default)["metadata"]["labels"].items()


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_off_by_default(default: list[dict[str, Any]]) -> None:
    assert [c["name"] for c in pod(default)["containers"]] == ["redis"]
    assert not any(d["metadata"]["name"].endswith("-metrics") for d in default)


def test_metrics_in_production(production: list[dict[str, Any]]) -> None:
    p = pod(production)
    exporter = container(p, "metrics")
    assert exporter["image"] == "docker.io/oliver006/redis_exporter:v1.67.0"
    assert exporter["ports"] == [{"name": "http-metrics", "containerPort": 9121, "protocol": "TCP"}]
    env = env_map(exporter)
    assert env["REDIS_ADDR"] == "redis://127.0.0.1:6379"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": FULL, "key": "redis-password"}}
    assert exporter["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http-metrics"}
    assert exporter["securityContext"]["runAsUser"] == 59000
    svc = find(production, "Service", f"{FULL}-metrics")
    assert svc["spec"]["ports"][0]["name"] == "http-metrics"
    assert svc["spec"]["selector"] == SERVER_SELECTOR
    np = find(production, "NetworkPolicy", FULL)["spec"]
    scrape = np["ingress"][1]
    monitoring_ns = {"kubernetes.io/metadata.name": "clipper-monitoring"}
    assert scrape["from"] == [{"namespaceSelector": {"matchLabels": monitoring_ns}}]
    assert scrape["ports"] == [{"port": "http-metrics", "protocol": "TCP"}]
    skips = {v.split("=")[0] for k, v in sts(production)["metadata"]["annotations"].items() if "skip" in k}
    assert "CKV_K8S_35" in skips


# --- helm test pod ---------------------------------------------------------------------------


def test_helm_test_pod(default: list[dict[str, Any]]) -> None:
    t = helm_test_pod(default)
    assert t["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = t["spec"]
    assert spec["restartPolicy"] == "Never"
    c = container(spec, "ping")
    assert c["image"] == container(pod(default), "redis")["image"], "the test reuses the server image"
    script = c["command"][2]
    assert 'REDISCLI_AUTH="$(cat /opt/redis/secret/password)"' in script
    assert f"redis-cli --no-auth-warning -h {FULL} -p 6379 ping" in script
    assert '[ "$answer" = PONG ]' in script
    assert " -a " not in script


def test_helm_tests_can_be_disabled() -> None:
    docs = render(CHART, {"tests": {"enabled": False}})
    assert not [d for d in docs if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]
    assert find(docs, "NetworkPolicy", FULL)


# --- real server -----------------------------------------------------------------------------


@pytest.mark.servers
def test_rendered_config_runs_real_redis(tmp_path: Path) -> None:
    """Start redis-server with the chart's start.sh and redis.conf (paths moved into tmp_path)."""
    ensure_debian_packages("redis-server")
    password = 'pa ss"w\\ord'
    docs = render(CHART, {"auth": {"password": password}})
    data = find(docs, "ConfigMap", FULL)["data"]
    port = free_port()
    dirs = {name: tmp_path / name for name in ("etc", "secret", "run", "data")}
    for d in dirs.values():
        d.mkdir()

    def relocate(text: str) -> str:
        return (
            text.replace("/etc/redis", str(dirs["etc"]))
            .replace("/opt/redis/secret", str(dirs["secret"]))
            .replace("/run/redis", str(dirs["run"]))
            .replace("dir /data", f"dir {dirs['data']}")
            .replace("6379", str(port))
        )

    for name, text in data.items():
        (dirs["etc"] / name).write_text(relocate(text))
    (dirs["secret"] / "password").write_text(password)
    proc = subprocess.Popen(["sh", str(dirs["etc"] / "start.sh")], cwd=dirs["data"])
    try:
        cli = ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", str(port)]
        authed = {**os.environ, "REDISCLI_AUTH": password}
        for _ in range(50):
            probe = subprocess.run(["sh", str(dirs["etc"] / "ping.sh"), "readiness"], capture_output=True, text=True)
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        assert probe.returncode == 0, probe.stderr
        assert oct((dirs["run"] / "auth.conf").stat().st_mode & 0o777) == "0o600"
        assert subprocess.run([*cli, "ping"], capture_output=True, text=True).stdout.startswith("NOAUTH")
        run = lambda *args: subprocess.run([*cli, *args], capture_output=True, text=True, env=authed).stdout  # noqa: E731
        assert run("ping").strip() == "PONG"
        assert "unknown command" in run("FLUSHALL")
        assert "unknown command" in run("CONFIG", "GET", "maxmemory")
        memory = run("INFO", "memory")
        assert f"maxmemory:{512 * 1024**2 * 75 // 100}" in memory
        assert "maxmemory_policy:volatile-lru" in memory
        assert "aof_enabled:1" in run("INFO", "persistence")
        (dirs["secret"] / "password").write_text("wrong")
        for mode in ("readiness", "liveness"):
            probe = subprocess.run(["sh", str(dirs["etc"] / "ping.sh"), mode], capture_output=True, text=True)
            assert probe.returncode == 1, f"{mode} probe passed with a wrong password"
            assert "NOAUTH" in probe.stderr or "WRONGPASS" in probe.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- password reuse through lookup, against a minimal fake Kubernetes API ------------------------


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_generated_password_is_reused_on_upgrade(fake_kube_api: FakeKube, helm: str) -> None:
    stored = fake_kube_api.add_secret(FULL, {"redis-password": "generated-at-install"})["data"]
    docs = [render_with_lookup(CHART, helm=helm) for _ in range(2)]
    for d in docs:
        assert find(d, "Secret", FULL)["data"] == stored, "the stored password must be kept"
    assert annotations(docs[0])["checksum/secret"] == annotations(docs[1])["checksum/secret"], "no restart"


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_existing_secret_without_key_fails_instead_of_rotating(fake_kube_api: FakeKube, helm: str) -> None:
    fake_kube_api.add_secret(FULL, {"password": "x"})
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, helm=helm)
    assert f'Secret {FULL} exists but has no key "redis-password"' in err.value.stderr
    assert "add the key with the current password" in err.value.stderr


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_user_secret_without_key_fails(fake_kube_api: FakeKube, helm: str) -> None:
    values = {"auth": {"existingSecret": "vault-redis"}}
    fake_kube_api.add_secret("vault-redis", {"other": "x"})
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, values, helm=helm)
    assert 'Secret vault-redis in namespace clipper has no key "redis-password"' in err.value.stderr
    assert "set auth.passwordKey" in err.value.stderr
    fake_kube_api.add_secret("vault-redis", {"other": "x", "redis-password": "x"})
    assert render_with_lookup(CHART, values, helm=helm)


def test_explicit_password_replaces_stored_one(fake_kube_api: FakeKube) -> None:
    fake_kube_api.add_secret(FULL, {"redis-password": "old"})
    docs = render_with_lookup(CHART, {"auth": {"password": "new"}})
    assert base64.b64decode(find(docs, "Secret", FULL)["data"]["redis-password"]) == b"new"
