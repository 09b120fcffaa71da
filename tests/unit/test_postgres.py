"""Rendered-manifest assertions for the postgres chart (PostgreSQL 17 + pgvector, single primary)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from charttest import chart_path, container, env_map, find, find_all, free_port, render, render_error, selector
from fakekube import LOOKUP_HELMS, FakeKube, render_with_lookup
from servers.support import ensure_debian_packages

from helm_mgmt.helm import Helm, HelmError

pytestmark = pytest.mark.helm
# The fake_kube_api fixture: a stand-in API server for renders that look up earlier Secrets.
pytest_plugins = ["fakekube"]

CHART = "postgres"
FULL = "clipper-postgres"
PRIMARY = selector("postgres", "primary")
BACKUP = {**PRIMARY, "app.kubernetes.io/component": "backup"}
TEST = {**PRIMARY, "app.kubernetes.io/component": "test"}
BACKEND = selector("backend")
ENVS = [None, "staging", "production"]
PASSWORD_FILE = "/run/secrets/postgres/password"


def sts(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "StatefulSet", FULL)


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return sts(docs)["spec"]["template"]["spec"]


def server(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return container(pod(docs), "postgres")


def conf(docs: list[dict[str, Any]]) -> dict[str, str]:
    """postgresql.conf as name -> raw value."""
    text = find(docs, "ConfigMap", f"{FULL}-config")["data"]["postgresql.conf"]
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert name.strip() not in settings, f"{name} set twice"
            settings[name.strip()] = value.strip()
    return settings


def cronjob_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "CronJob", f"{FULL}-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def check_job(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = find_all(docs, "Job")
    assert job["metadata"]["name"].startswith(f"{FULL}-backup-check-")
    return job


def helm_test_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Pod", f"{FULL}-test-connection")["spec"]


def all_pod_specs(docs: list[dict[str, Any]], logins_only: bool = False) -> dict[str, dict[str, Any]]:
    """Every pod the chart makes; with logins_only, those that log in to the database."""
    specs = {"statefulset": pod(docs), "test": helm_test_spec(docs)}
    if find_all(docs, "CronJob"):
        specs["backup"] = cronjob_pod(docs)
        if not logins_only:
            specs["backup-check"] = check_job(docs)["spec"]["template"]["spec"]
    return specs


# --- objects and names -----------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_objects_rendered_per_environment(env):
    docs = render(CHART, env=env)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    expected = {
        ("ConfigMap", f"{FULL}-config"),
        ("ConfigMap", f"{FULL}-initdb"),
        ("NetworkPolicy", FULL),
        ("NetworkPolicy", f"{FULL}-clients"),
        ("Pod", f"{FULL}-test-connection"),
        ("Secret", FULL),
        ("Secret", f"{FULL}-superuser"),
        ("Service", FULL),
        ("Service", f"{FULL}-headless"),
        ("ServiceAccount", FULL),
        ("StatefulSet", FULL),
    }
    if env in ("staging", "production"):
        expected.add(("Job", check_job(docs)["metadata"]["name"]))
        expected |= {
            ("CronJob", f"{FULL}-backup"),
            ("PersistentVolumeClaim", f"{FULL}-backup"),
        }
    if env == "production":
        expected |= {
            ("Service", f"{FULL}-metrics"),
            ("ServiceMonitor", f"{FULL}-metrics"),
            ("PrometheusRule", FULL),
            ("ConfigMap", f"{FULL}-dashboard"),
        }
    assert set(kinds) == expected
    assert len(kinds) == len(expected), "an object is rendered twice"
    assert not find_all(docs, "PodDisruptionBudget"), "a single replica must not get a PDB"
    for doc in docs:
        assert doc["metadata"]["namespace"] == "clipper", f"{doc['kind']} without namespace"
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "postgres"
        assert labels["app.kubernetes.io/part-of"] == "clipper"
        assert labels["helm.sh/chart"].startswith("postgres-")


def test_no_separate_pvc_for_the_data():
    docs = render(CHART, env="production")
    pvcs = find_all(docs, "PersistentVolumeClaim")
    assert [p["metadata"]["name"] for p in pvcs] == [f"{FULL}-backup"]


def test_fullname_override_and_release_containing_chart_name():
    docs = render(CHART, {"fullnameOverride": "db"})
    assert find(docs, "StatefulSet", "db")["spec"]["serviceName"] == "db-headless"
    docs = render(CHART, release="clipper-postgres")
    assert find(docs, "StatefulSet")["metadata"]["name"] == "clipper-postgres"


# --- StatefulSet -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_statefulset_is_single_primary_with_claim_template(env):
    docs = render(CHART, env=env)
    s = sts(docs)["spec"]
    assert s["replicas"] == 1
    assert s["serviceName"] == f"{FULL}-headless"
    assert s["selector"]["matchLabels"] == PRIMARY
    assert s["podManagementPolicy"] == "OrderedReady"
    assert s["updateStrategy"] == {"type": "RollingUpdate"}
    assert s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    (vct,) = s["volumeClaimTemplates"]
    assert vct["metadata"]["name"] == "data"
    assert vct["metadata"]["labels"] == PRIMARY, "claim template labels must be the immutable selector only"
    assert vct["spec"]["accessModes"] == ["ReadWriteOnce"]
    size = {"production": "50Gi"}.get(env, "20Gi")
    assert vct["spec"]["resources"]["requests"]["storage"] == size
    if env == "production":
        assert vct["spec"]["storageClassName"] == "standard"
    else:
        assert "storageClassName" not in vct["spec"]
    assert "data" not in {v["name"] for v in s["template"]["spec"]["volumes"]}


def test_storage_class_from_global_and_chart_and_dash():
    def vct(values):
        return sts(render(CHART, values))["spec"]["volumeClaimTemplates"][0]["spec"]

    assert vct({"global": {"storageClass": "fast"}})["storageClassName"] == "fast"
    both = {"global": {"storageClass": "fast"}, "persistence": {"storageClassName": "ssd"}}
    err = render_error(CHART, both)
    assert "persistence.storageClassName (ssd) has no effect: global.storageClass (fast) wins" in err
    assert vct({"persistence": {"storageClassName": "-"}})["storageClassName"] == ""


def test_persistence_options():
    docs = render(
        CHART,
        {
            "persistence": {
                "size": "8Gi",
                "accessMode": "ReadWriteOncePod",
                "annotations": {"backup.velero.io/backup-volumes": "data"},
                "retentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            }
        },
    )
    s = sts(docs)["spec"]
    vct = s["volumeClaimTemplates"][0]
    assert vct["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert vct["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert vct["metadata"]["annotations"] == {"backup.velero.io/backup-volumes": "data"}
    assert s["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"


def test_persistence_disabled_renders_an_emptydir():
    docs = render(CHART, {"persistence": {"enabled": False}})
    s = sts(docs)["spec"]
    assert "volumeClaimTemplates" not in s
    volumes = {v["name"]: v for v in s["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    mounts = {m["name"]: m["mountPath"] for m in server(docs)["volumeMounts"]}
    assert mounts["data"] == "/var/lib/postgresql/data"


def test_image_pinned_digest_and_registry():
    docs = render(CHART)
    c = server(docs)
    assert c["image"] == "docker.io/pgvector/pgvector:0.8.0-pg17"
    assert c["imagePullPolicy"] == "IfNotPresent"
    digest = "sha256:" + "a" * 64
    docs = render(CHART, {"image": {"digest": digest}, "global": {"imageRegistry": "mirror.local:5000"}})
    assert server(docs)["image"] == f"mirror.local:5000/pgvector/pgvector@{digest}"
    assert container(helm_test_spec(docs), "psql")["image"] == server(docs)["image"]


def test_server_args_env_and_pgdata_in_subdirectory():
    docs = render(CHART)
    c = server(docs)
    assert c["args"] == ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"]
    env = env_map(c)
    assert env == {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres-superuser/password",
        "POSTGRES_DB": "clipper_db",
        "POSTGRES_APP_USER": "clipper",
        "POSTGRES_APP_PASSWORD_FILE": PASSWORD_FILE,
        "PGDATA": "/var/lib/postgresql/data/pgdata",
        "POSTGRES_INITDB_ARGS": "--data-checksums",
    }
    assert env["PGDATA"].startswith("/var/lib/postgresql/data/"), "PGDATA must be below the mount (lost+found)"
    assert c["ports"] == [{"name": "tcp-postgresql", "containerPort": 5432, "protocol": "TCP"}]


def test_password_comes_from_a_file_not_env():
    docs = render(CHART, env="production")
    for name, spec in all_pod_specs(docs, logins_only=True).items():
        volumes = {v["name"]: v for v in spec["volumes"]}
        secret = volumes["password"]["secret"]
        assert secret["secretName"] == FULL, name
        assert secret["items"] == [{"key": "password", "path": "password"}]
        assert secret["defaultMode"] == 0o440
        for c in spec["containers"]:
            for e in c.get("env", []):
                assert "secretKeyRef" not in e.get("valueFrom", {}), f"{name}/{c['name']} {e['name']}"
            mounts = {m["name"]: m for m in c["volumeMounts"]}
            assert mounts["password"] == {"name": "password", "mountPath": "/run/secrets/postgres", "readOnly": True}
            # The superuser's password reaches the server (for initdb) and nothing else.
            assert ("superuser-password" in mounts) == (name == "statefulset" and c["name"] == "postgres"), c["name"]


def test_global_postgres_wins_over_auth_everywhere():
    values = {
        "global": {
            "postgres": {
                "username": "app",
                "database": "appdb",
                "existingSecret": "db-credentials",
                "passwordKey": "db-password",
            }
        },
        "auth": {"username": "app"},
        "backup": {"enabled": True},
        "metrics": {"enabled": True},
    }
    docs = render(CHART, values)
    secrets = [d["metadata"]["name"] for d in find_all(docs, "Secret")]
    assert secrets == [f"{FULL}-superuser"], "an existing Secret must not be shadowed by a chart-made one"
    env = env_map(server(docs))
    assert env["POSTGRES_APP_USER"] == "app" and env["POSTGRES_DB"] == "appdb" and env["POSTGRES_USER"] == "postgres"
    for spec in all_pod_specs(docs, logins_only=True).values():
        secret = {v["name"]: v for v in spec["volumes"]}["password"]["secret"]
        assert secret["secretName"] == "db-credentials"
        assert secret["items"] == [{"key": "db-password", "path": "password"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        cmd = server(docs)[probe]["exec"]["command"]
        assert "--username=app" in cmd and "--dbname=appdb" in cmd
    for spec in (cronjob_pod(docs), helm_test_spec(docs)):
        env = env_map(spec["containers"][0])
        assert env["PGUSER"] == "app" and env["PGDATABASE"] == "appdb"
    metrics_env = env_map(container(pod(docs), "metrics"))
    assert metrics_env["DATA_SOURCE_USER"] == "app"
    assert metrics_env["DATA_SOURCE_URI"] == "127.0.0.1:5432/appdb?sslmode=disable"
    assert "checksum/secret" not in sts(docs)["spec"]["template"]["metadata"]["annotations"]


def test_existing_secret_from_auth():
    docs = render(CHART, {"auth": {"existingSecret": "mine", "passwordKey": "pw"}})
    assert [d["metadata"]["name"] for d in find_all(docs, "Secret")] == [f"{FULL}-superuser"]
    secret = {v["name"]: v for v in pod(docs)["volumes"]}["password"]["secret"]
    assert secret == {"secretName": "mine", "defaultMode": 0o440, "items": [{"key": "pw", "path": "password"}]}


def test_extra_env_follows_the_charts_own_and_may_not_replace_it():
    docs = render(CHART, {"extraEnv": [{"name": "TZ", "value": "UTC"}, {"name": "LANG", "value": "C.UTF-8"}]})
    names = [e["name"] for e in server(docs)["env"]]
    assert names[-2:] == ["TZ", "LANG"] and len(names) == len(set(names))
    err = render_error(CHART, {"extraEnv": [{"name": "POSTGRES_INITDB_ARGS", "value": "--locale=C"}]})
    assert "extraEnv sets POSTGRES_INITDB_ARGS, which the chart sets itself" in err


@pytest.mark.parametrize("env", ENVS)
def test_probes_use_pg_isready_with_configured_user(env):
    docs = render(CHART, env=env)
    c = server(docs)
    expected_cmd = [
        "pg_isready",
        "--host=127.0.0.1",
        "--port=5432",
        "--username=clipper",
        "--dbname=clipper_db",
        "--timeout=3",
    ]
    timings = {
        "startupProbe": (5, 10, 5, 60, 1),
        "livenessProbe": (0, 10, 5, 6, 1),
        "readinessProbe": (0, 5, 5, 3, 1),
    }
    for name, (delay, period, timeout, failures, successes) in timings.items():
        probe = c[name]
        assert probe["exec"]["command"] == expected_cmd, name
        assert (
            probe["initialDelaySeconds"],
            probe["periodSeconds"],
            probe["timeoutSeconds"],
            probe["failureThreshold"],
            probe["successThreshold"],
        ) == (delay, period, timeout, failures, successes), name
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 600


def test_probes_follow_values_and_can_be_disabled():
    docs = render(
        CHART,
        {
            "auth": {"username": "owner", "database": "things"},
            "livenessProbe": {"enabled": False},
            "readinessProbe": {"periodSeconds": 2, "failureThreshold": 7},
        },
    )
    c = server(docs)
    assert "livenessProbe" not in c
    assert c["readinessProbe"]["periodSeconds"] == 2 and c["readinessProbe"]["failureThreshold"] == 7
    assert "--username=owner" in c["readinessProbe"]["exec"]["command"]
    assert "--dbname=things" in c["startupProbe"]["exec"]["command"]


def test_prestop_fast_shutdown_inside_grace_period():
    docs = render(CHART, {"terminationGracePeriodSeconds": 90})
    assert pod(docs)["terminationGracePeriodSeconds"] == 90
    cmd = server(docs)["lifecycle"]["preStop"]["exec"]["command"]
    assert cmd[:2] == ["/bin/sh", "-c"]
    assert "pg_ctl stop" in cmd[2] and "--mode=fast" in cmd[2] and "--timeout=80" in cmd[2]


@pytest.mark.parametrize(
    ("env", "requests", "limits"),
    [
        (None, {"cpu": "250m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "1Gi"}),
        ("staging", {"cpu": "100m", "memory": "256Mi"}, {"cpu": "500m", "memory": "1Gi"}),
        ("production", {"cpu": "500m", "memory": "1Gi"}, {"cpu": "2000m", "memory": "4Gi"}),
    ],
)
def test_resources_per_environment(env, requests, limits):
    docs = render(CHART, env=env)
    assert server(docs)["resources"] == {"requests": requests, "limits": limits}
    for spec in all_pod_specs(docs).values():
        for c in spec["containers"] + spec.get("initContainers", []):
            assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]


def test_writable_paths_are_emptydirs():
    docs = render(CHART, {"shmSizeLimit": "1Gi"})
    volumes = {v["name"]: v for v in pod(docs)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in server(docs)["volumeMounts"]}
    assert volumes[mounts["/var/run/postgresql"]]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert volumes[mounts["/dev/shm"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert volumes[mounts["/etc/postgresql"]]["configMap"]["name"] == f"{FULL}-config"
    assert volumes[mounts["/docker-entrypoint-initdb.d"]]["configMap"]["name"] == f"{FULL}-initdb"


def test_scheduling_and_extras_pass_through():
    values = {
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "db", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
                }
            }
        },
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}],
        "priorityClassName": "database",
        "podAnnotations": {"team": "platform"},
        "podLabels": {"tier": "data"},
        "extraVolumes": [{"name": "certs", "secret": {"secretName": "pg-certs"}}],
        "extraVolumeMounts": [{"name": "certs", "mountPath": "/certs", "readOnly": True}],
        "imagePullSecrets": ["regcred"],
        "global": {"imagePullSecrets": [{"name": "regcred"}, {"name": "other"}]},
    }
    docs = render(CHART, values)
    p = pod(docs)
    assert p["nodeSelector"] == {"disk": "ssd"}
    assert p["tolerations"][0]["key"] == "db"
    assert p["affinity"] == values["affinity"]
    assert p["topologySpreadConstraints"] == values["topologySpreadConstraints"]
    assert p["priorityClassName"] == "database"
    assert p["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
    meta = sts(docs)["spec"]["template"]["metadata"]
    assert meta["annotations"]["team"] == "platform"
    assert meta["labels"]["tier"] == "data"
    assert sts(docs)["spec"]["selector"]["matchLabels"] == PRIMARY
    assert {"name": "certs", "mountPath": "/certs", "readOnly": True} in server(docs)["volumeMounts"]
    assert {"name": "certs", "secret": {"secretName": "pg-certs"}} in p["volumes"]
    assert helm_test_spec(docs)["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]


# --- security --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_and_container_is_hardened(env):
    values = {"metrics": {"enabled": True}, "backup": {"enabled": True}}
    docs = render(CHART, values, env=env)
    for name, spec in all_pod_specs(docs).items():
        assert spec["automountServiceAccountToken"] is False, name
        sc = spec["securityContext"]
        assert sc["runAsNonRoot"] is True, name
        assert (sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"]) == (999, 999, 999), name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        containers = spec["containers"] + spec.get("initContainers", [])
        for c in containers:
            csc = c["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, c["name"]
            assert csc["readOnlyRootFilesystem"] is True, c["name"]
            assert csc["runAsNonRoot"] is True, c["name"]
            assert csc["runAsUser"] == 999, c["name"]
            assert csc["capabilities"] == {"drop": ["ALL"]}, c["name"]
            assert not csc.get("privileged"), c["name"]
        for v in spec["volumes"]:
            assert "hostPath" not in v, name
    sa = find(docs, "ServiceAccount", FULL)
    assert sa["automountServiceAccountToken"] is False
    assert pod(docs)["serviceAccountName"] == FULL


def test_service_account_can_be_external():
    docs = render(CHART, {"serviceAccount": {"create": False, "name": "db-sa"}})
    assert not find_all(docs, "ServiceAccount")
    assert pod(docs)["serviceAccountName"] == "db-sa"


def test_checkov_skips_give_reasons():
    docs = render(CHART, env="production")
    for doc in docs:
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert check in {"CKV_K8S_43", "CKV_K8S_40", "CKV_K8S_15", "CKV_K8S_8", "CKV_K8S_9"}, value
                assert len(reason.split()) >= 5, value


# --- Secret and password lifecycle -----------------------------------------------------------


def test_chart_made_secret_is_kept_and_generated():
    docs = render(CHART)
    secret = find(docs, "Secret", FULL)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert set(secret["data"]) == {"password"}
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert len(password) == 32 and password.isalnum()
    other = base64.b64decode(find(render(CHART), "Secret", FULL)["data"]["password"]).decode()
    assert other != password, "without a stored Secret the password must be random"


def test_given_password_is_used_and_checksummed():
    docs = render(CHART, {"auth": {"password": "correct horse battery"}})
    secret = find(docs, "Secret", FULL)
    assert base64.b64decode(secret["data"]["password"]).decode() == "correct horse battery"
    annotations = sts(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/secret"] == hashlib.sha256(b"correct horse battery").hexdigest()


def test_generated_password_and_checksum_agree_in_one_render():
    docs = render(CHART)
    password = base64.b64decode(find(docs, "Secret", FULL)["data"]["password"])
    annotations = sts(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/secret"] == hashlib.sha256(password).hexdigest()


def test_custom_password_key_in_chart_made_secret():
    docs = render(CHART, {"auth": {"password": "longenough", "passwordKey": "pg-pass"}})
    assert set(find(docs, "Secret", FULL)["data"]) == {"pg-pass"}
    assert {v["name"]: v for v in pod(docs)["volumes"]}["password"]["secret"]["items"][0]["key"] == "pg-pass"


# --- password reuse through lookup, against a stand-in Kubernetes API ----------------------------


def stored_password(docs: list[dict[str, Any]], key: str = "password") -> str:
    return base64.b64decode(find(docs, "Secret", FULL)["data"][key]).decode()


def secret_checksum(docs: list[dict[str, Any]]) -> str:
    return sts(docs)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_generated_password_is_reused_on_upgrade(fake_kube_api: FakeKube, helm: str) -> None:
    stored = fake_kube_api.add_secret(FULL, {"password": "generated-at-install"})["data"]
    runs = [render_with_lookup(CHART, helm=helm) for _ in range(2)]
    for docs in runs:
        assert find(docs, "Secret", FULL)["data"] == stored, "the stored password must be kept"
        assert secret_checksum(docs) == hashlib.sha256(b"generated-at-install").hexdigest(), "no restart"


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_stored_secret_without_password_key_fails(fake_kube_api: FakeKube, helm: str) -> None:
    fake_kube_api.add_secret(FULL, {"other": "x"})
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, helm=helm)
    message = err.value.stderr
    assert f'Secret clipper/{FULL} exists but has no key "password"' in message
    assert 'Put the current password under "password" in that Secret' in message
    assert f"kubectl -n clipper edit secret {FULL}" in message
    assert "or set auth.existingSecret to the Secret that holds it" in message


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_stored_secret_is_read_under_the_configured_key(fake_kube_api: FakeKube, helm: str) -> None:
    fake_kube_api.add_secret(FULL, {"password": "under-the-old-key"})
    values = {"auth": {"passwordKey": "pg-pass"}}
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, values, helm=helm)
    assert f'Secret clipper/{FULL} exists but has no key "pg-pass"' in err.value.stderr
    fake_kube_api.add_secret(FULL, {"pg-pass": "under-the-new-key"})
    assert stored_password(render_with_lookup(CHART, values, helm=helm), "pg-pass") == "under-the-new-key"


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_changed_password_is_refused_unless_allowed(fake_kube_api: FakeKube, helm: str) -> None:
    fake_kube_api.add_secret(FULL, {"password": "stored-password"})
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, {"auth": {"password": "new-password"}}, helm=helm)
    message = err.value.stderr
    assert f"auth.password differs from the password stored in Secret clipper/{FULL}" in message
    assert "remove auth.password to keep the current one" in message
    assert "run ALTER ROLE clipper PASSWORD '<new>' in the database first" in message
    assert "auth.password=<new> and auth.allowPasswordChange=true" in message
    # The stored password, given again, is no change.
    same = render_with_lookup(CHART, {"auth": {"password": "stored-password"}}, helm=helm)
    assert stored_password(same) == "stored-password"
    # After ALTER ROLE, the user allows the change: the new password is stored and the pods roll.
    changed = render_with_lookup(CHART, {"auth": {"password": "new-password", "allowPasswordChange": True}}, helm=helm)
    assert stored_password(changed) == "new-password"
    assert secret_checksum(changed) == hashlib.sha256(b"new-password").hexdigest() != secret_checksum(same)


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "max_conn", "shared", "cache", "work", "maint"),
    [
        (None, "300", "'256MB'", "'768MB'", "'4MB'", "'64MB'"),
        ("staging", "300", "'256MB'", "'768MB'", "'4MB'", "'64MB'"),
        ("production", "550", "'1GB'", "'3GB'", "'8MB'", "'256MB'"),
    ],
)
def test_postgresql_conf_per_environment(env, max_conn, shared, cache, work, maint):
    settings = conf(render(CHART, env=env))
    assert settings["max_connections"] == max_conn
    assert settings["shared_buffers"] == shared
    assert settings["effective_cache_size"] == cache
    assert settings["work_mem"] == work
    assert settings["maintenance_work_mem"] == maint
    assert settings["listen_addresses"] == "'*'"
    assert settings["password_encryption"] == "'scram-sha-256'"
    assert settings["hba_file"] == "'/var/lib/postgresql/data/pgdata/pg_hba.conf'"
    assert settings["port"] == "5432"
    assert {"wal_level", "min_wal_size", "max_wal_size", "wal_buffers"} <= set(settings)


@pytest.mark.parametrize(("env", "backend_max_replicas"), [(None, 10), ("staging", 10), ("production", 20)])
def test_max_connections_cover_backend_pools(env, backend_max_replicas):
    settings = conf(render(CHART, env=env))
    assert int(settings["max_connections"]) >= backend_max_replicas * 25 + 20


def test_config_extra_is_typed_and_quoted():
    docs = render(
        CHART,
        {
            "config": {
                "extra": {
                    "statement_timeout": 1000000,
                    "jit": False,
                    "log_line_prefix": "it's %m",
                    "seq_page_cost": 1.5,
                }
            }
        },
    )
    settings = conf(docs)
    assert settings["statement_timeout"] == "1000000"
    assert settings["jit"] == "off"
    assert settings["log_line_prefix"] == "'it''s %m'"
    assert settings["seq_page_cost"] == "1.5"


def test_checksum_config_follows_postgresql_conf_only():
    base = sts(render(CHART))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    changed = sts(render(CHART, {"config": {"workMem": "16MB"}}))["spec"]["template"]["metadata"]["annotations"]
    assert changed["checksum/config"] != base
    same = sts(render(CHART, {"initdb": {"scripts": {"10-x.sql": "SELECT 1;"}}}))
    assert same["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == base, (
        "init scripts only run on an empty data directory; changing them must not restart the database"
    )


def test_initdb_extensions_and_user_scripts():
    docs = render(CHART, {"initdb": {"scripts": {"10-roles.sql": "CREATE ROLE reader;", "20-x.sh": "echo hi"}}})
    data = find(docs, "ConfigMap", f"{FULL}-initdb")["data"]
    extensions = [line.strip() for line in data["00-clipper-roles.sh"].splitlines() if "EXTENSION" in line]
    assert extensions == [
        'CREATE EXTENSION IF NOT EXISTS "vector";',
        'CREATE EXTENSION IF NOT EXISTS "pgcrypto";',
        'CREATE EXTENSION IF NOT EXISTS "pg_trgm";',
        'CREATE EXTENSION IF NOT EXISTS "ltree";',
    ]
    assert data["10-roles.sql"].strip() == "CREATE ROLE reader;"
    assert data["20-x.sh"].strip() == "echo hi"
    assert sorted(data)[0] == "00-clipper-roles.sh", "the roles and extensions come first"


# --- Services --------------------------------------------------------------------------------


def test_services():
    docs = render(CHART, {"service": {"port": 6543, "annotations": {"a": "b"}}})
    svc = find(docs, "Service", FULL)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "tcp-postgresql", "port": 6543, "targetPort": "tcp-postgresql", "protocol": "TCP"}
    ]
    assert svc["spec"]["selector"] == PRIMARY
    assert svc["metadata"]["annotations"] == {"a": "b"}
    headless = find(docs, "Service", f"{FULL}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["ports"][0]["name"] == "tcp-postgresql"
    assert headless["spec"]["selector"] == PRIMARY
    port_names = {p["name"] for p in server(docs)["ports"]}
    for s in (svc, headless):
        assert s["spec"]["ports"][0]["targetPort"] in port_names


# --- NetworkPolicy ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_network_policy_server(env):
    docs = render(CHART, env=env)
    np = find(docs, "NetworkPolicy", FULL)["spec"]
    assert np["podSelector"] == {"matchLabels": PRIMARY}
    assert np["policyTypes"] == ["Ingress", "Egress"]
    db_rule = np["ingress"][0]
    assert db_rule["ports"] == [{"port": "tcp-postgresql", "protocol": "TCP"}]
    peers = [p["podSelector"]["matchLabels"] for p in db_rule["from"]]
    assert all(set(p) == {"podSelector"} for p in db_rule["from"]), "same-namespace pods only"
    assert BACKEND in peers and TEST in peers
    assert (BACKUP in peers) == (env in ("staging", "production"))
    metrics_rules = [r for r in np["ingress"] if r["ports"][0]["port"] == "metrics"]
    if env == "production":
        (rule,) = metrics_rules
        assert rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "clipper-monitoring"}}}
        ]
    else:
        assert not metrics_rules
    assert np["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


def test_network_policy_options():
    values = {
        "metrics": {"enabled": True},
        "networkPolicy": {
            "backend": {"podSelector": {"app": "api"}},
            "monitoring": {"namespace": "observability", "podSelector": {"matchLabels": {"app": "prometheus"}}},
            "dns": {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]},
            "extraIngress": [{"from": [{"podSelector": {"matchLabels": {"app": "admin"}}}], "ports": [{"port": 5432}]}],
            "extraEgress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443}]}],
        },
    }
    np = find(render(CHART, values), "NetworkPolicy", FULL)["spec"]
    assert np["ingress"][0]["from"][0] == {"podSelector": {"matchLabels": {"app": "api"}}}
    assert np["ingress"][1]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
            "podSelector": {"matchLabels": {"app": "prometheus"}},
        }
    ]
    assert np["ingress"][2] == values["networkPolicy"]["extraIngress"][0]
    assert np["egress"][0]["to"] == values["networkPolicy"]["dns"]["to"]
    assert np["egress"][1] == values["networkPolicy"]["extraEgress"][0]


def test_network_policy_for_chart_clients():
    docs = render(CHART, env="production")
    np = find(docs, "NetworkPolicy", f"{FULL}-clients")["spec"]
    selector = np["podSelector"]
    assert selector["matchLabels"] == {k: v for k, v in PRIMARY.items() if k != "app.kubernetes.io/component"}
    assert selector["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["backup", "test"]}
    ]
    assert np["ingress"] == []
    assert np["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert np["egress"][1] == {
        "ports": [{"port": 5432, "protocol": "TCP"}],
        "to": [{"podSelector": {"matchLabels": PRIMARY}}],
    }
    for spec_labels in (
        find(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
        find(docs, "Pod")["metadata"]["labels"],
    ):
        assert spec_labels["app.kubernetes.io/component"] in ("backup", "test")


def test_network_policy_disabled():
    docs = render(CHART, {"networkPolicy": {"enabled": False}, "backup": {"enabled": True}})
    assert not find_all(docs, "NetworkPolicy")


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_sidecar_and_service():
    docs = render(CHART, {"metrics": {"enabled": True}})
    c = container(pod(docs), "metrics")
    assert c["image"] == "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
    env = env_map(c)
    assert env["DATA_SOURCE_PASS_FILE"] == PASSWORD_FILE
    assert env["DATA_SOURCE_URI"] == "127.0.0.1:5432/clipper_db?sslmode=disable"
    assert c["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert c["readinessProbe"]["httpGet"]["port"] == "metrics"
    svc = find(docs, "Service", f"{FULL}-metrics")
    assert svc["spec"]["ports"][0]["port"] == 9187 and svc["spec"]["ports"][0]["targetPort"] == "metrics"
    assert svc["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert svc["spec"]["selector"] == PRIMARY
    assert [c["name"] for c in pod(render(CHART))["containers"]] == ["postgres"]


# --- backup ----------------------------------------------------------------------------------


def test_backup_off_by_default():
    docs = render(CHART)
    assert not find_all(docs, "CronJob") and not find_all(docs, "PersistentVolumeClaim")
    assert not find_all(docs, "Job")


def test_the_install_checks_the_backup_volume_and_a_new_spec_checks_again():
    """A claim that binds on first use stays Pending until a pod mounts it, and `helm --wait` waits
    for it: the check Job mounts it at once and writes to it as the postgres user. It is named after
    its spec, so an upgrade that changes nothing in it leaves it alone (a Job cannot change)."""
    docs = render(CHART, env="production")
    job = check_job(docs)
    assert job["spec"]["activeDeadlineSeconds"] == 300 and "ttlSecondsAfterFinished" not in job["spec"]
    same = check_job(render(CHART, {"config": {"maxConnections": 300}}, env="production"))
    assert same["metadata"]["name"] == job["metadata"]["name"], "a change elsewhere keeps the Job"
    other = check_job(render(CHART, {"image": {"tag": "0.8.1-pg17"}}, env="production"))
    assert other["metadata"]["name"] != job["metadata"]["name"], "a new image is checked again"
    p = job["spec"]["template"]["spec"]
    (c,) = p["containers"]
    assert "touch /backups/.writable" in c["command"][-1]
    assert "env" not in c, "the check needs no database password"
    assert [v["name"] for v in p["volumes"]] == ["backups"]
    assert p["volumes"][0]["persistentVolumeClaim"]["claimName"] == f"{FULL}-backup"
    assert p["securityContext"] == cronjob_pod(docs)["securityContext"]
    assert c["securityContext"] == cronjob_pod(docs)["containers"][0]["securityContext"]
    own = render(CHART, {"backup": {"enabled": True, "persistence": {"existingClaim": "nfs-backups"}}})
    claim = check_job(own)["spec"]["template"]["spec"]["volumes"][0]
    assert claim["persistentVolumeClaim"]["claimName"] == "nfs-backups"


@pytest.mark.parametrize(
    ("env", "schedule", "retention", "size"),
    [
        ("staging", "30 3 * * *", "3", "20Gi"),
        ("production", "0 3 * * *", "7", "100Gi"),
    ],
)
def test_backup_cronjob(env, schedule, retention, size):
    docs = render(CHART, env=env)
    cj = find(docs, "CronJob", f"{FULL}-backup")
    spec = cj["spec"]
    assert spec["schedule"] == schedule
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    assert spec["startingDeadlineSeconds"] == 300
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1 and job["activeDeadlineSeconds"] == 3600
    p = job["template"]["spec"]
    assert p["restartPolicy"] == "Never"
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    (c,) = p["containers"]
    assert c["image"] == "docker.io/pgvector/pgvector:0.8.0-pg17", "pg_dump must match the server's major"
    script = c["command"][2]
    assert "pg_dump --format=custom" in script
    assert "tail -n +$((RETENTION + 1))" in script
    env = env_map(c)
    assert env["PGHOST"] == FULL and env["PGPORT"] == "5432"
    assert env["PGUSER"] == "clipper" and env["PGDATABASE"] == "clipper_db"
    assert env["RETENTION"] == retention
    assert env["POSTGRES_PASSWORD_FILE"] == PASSWORD_FILE
    volumes = {v["name"]: v for v in p["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == f"{FULL}-backup"
    pvc = find(docs, "PersistentVolumeClaim", f"{FULL}-backup")
    assert pvc["spec"]["resources"]["requests"]["storage"] == size
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert pvc["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"


def test_backup_options():
    values = {
        "backup": {
            "enabled": True,
            "schedule": "@daily",
            "timeZone": "Europe/Berlin",
            "extraArgs": ["--exclude-table-data=audit_log"],
            "persistence": {"existingClaim": "nfs-backups"},
        },
        "global": {"storageClass": "fast"},
    }
    docs = render(CHART, values)
    cj = find(docs, "CronJob")
    assert cj["spec"]["timeZone"] == "Europe/Berlin"
    c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][3:] == ["pg-backup", "--exclude-table-data=audit_log"]
    volumes = {v["name"]: v for v in cronjob_pod(docs)["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == "nfs-backups"
    assert not find_all(docs, "PersistentVolumeClaim")
    docs = render(CHART, {"backup": {"enabled": True}, "global": {"storageClass": "fast"}})
    assert find(docs, "PersistentVolumeClaim")["spec"]["storageClassName"] == "fast"


# --- helm test -------------------------------------------------------------------------------


def test_helm_test_pod_logs_in_and_checks_extensions():
    docs = render(CHART, {"auth": {"username": "owner", "database": "things"}, "service": {"port": 6000}})
    p = find(docs, "Pod", f"{FULL}-test-connection")
    assert p["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert p["spec"]["restartPolicy"] == "Never"
    c = container(p["spec"], "psql")
    assert c["image"] == "docker.io/pgvector/pgvector:0.8.0-pg17"
    env = env_map(c)
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (FULL, "6000", "owner", "things")
    script = c["command"][2]
    assert "SELECT extname FROM pg_extension" in script
    assert "for ext in vector pgcrypto pg_trgm ltree; do" in script
    # even when the list drops vector, the application needs it and the test checks it
    docs = render(CHART, {"initdb": {"extensions": ["pgcrypto"]}})
    assert "for ext in vector pgcrypto; do" in container(helm_test_spec(docs), "psql")["command"][2]


# --- references, NOTES, docs -----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_referenced_configmap_and_secret_exists(env):
    docs = render(CHART, {"metrics": {"enabled": True}}, env=env)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for spec in all_pod_specs(docs).values():
        for v in spec["volumes"]:
            if "configMap" in v:
                assert ("ConfigMap", v["configMap"]["name"]) in names
            if "secret" in v:
                assert ("Secret", v["secret"]["secretName"]) in names
            if "persistentVolumeClaim" in v:
                assert ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]) in names


def test_user_provided_secret_is_documented():
    readme = (chart_path(CHART) / "README.md").read_text()
    assert "auth.existingSecret" in readme and "global.postgres.existingSecret" in readme
    for topic in (
        "helm.sh/resource-policy: keep",
        "pg_restore",
        "ALTER ROLE",
        "PodDisruptionBudget",
        "single primary",
        "whenDeleted",
        "550",
    ):
        assert topic.lower() in readme.lower(), topic


def test_notes_render():
    proc = Helm("helm4").run(
        ["install", "clipper", str(chart_path(CHART)), "-n", "clipper", "--dry-run=client"]
        + ["-f", str(chart_path(CHART) / "examples/values-production.yaml")],
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "clipper-postgres.clipper.svc" in proc.stdout
    assert "delete pvc data-clipper-postgres-0" in proc.stdout
    assert "CronJob clipper-postgres-backup" in proc.stdout


# --- real server -----------------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the `postgres` user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_bin(name: str) -> str | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return shutil.which(name)


@pytest.mark.servers
def test_rendered_config_and_scripts_run_on_real_postgres() -> None:
    """Start PostgreSQL with the chart's postgresql.conf (paths moved into tmp_path), run the init
    script as the superuser (the application's role, owner of the database, no superuser), the
    pg_isready probe, the backup script (retention) and the helm-test script."""
    ensure_debian_packages("postgresql")
    password = "s3cret-pass word"
    docs = render(CHART, {"auth": {"password": password}, "backup": {"retention": 2}}, env="production")
    port = free_port()
    # pytest's tmp_path sits below a root-only directory: the server user needs its own
    tmp_path = Path(tempfile.mkdtemp(prefix="clipper-pg-"))
    pgdata, run, backups, secret = (tmp_path / n for n in ("pgdata", "run", "backups", "secret"))
    for d in (run, backups, secret):
        d.mkdir()
    (secret / "password").write_text(password)
    (secret / "superuser").write_text("superuser-pass")
    if os.geteuid() == 0:
        for d in (tmp_path, run, backups, secret, secret / "password", secret / "superuser"):
            shutil.chown(d, "postgres")
    pwfile = secret / "password"
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("initdb"),
                "-D",
                str(pgdata),
                "--username=postgres",
                f"--pwfile={secret / 'superuser'}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--data-checksums",
            ]
        ),
        check=True,
        capture_output=True,
    )
    text = find(docs, "ConfigMap", f"{FULL}-config")["data"]["postgresql.conf"]
    text = (
        text.replace("/var/lib/postgresql/data/pgdata", str(pgdata))
        .replace("/var/run/postgresql", str(run))
        .replace("port = 5432", f"port = {port}")
        .replace("listen_addresses = '*'", "listen_addresses = '127.0.0.1'")
    )
    conf_file = tmp_path / "postgresql.conf"
    conf_file.write_text(text)
    (pgdata / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    log = tmp_path / "postgres.log"
    args = server(docs)["args"]
    assert args[1:] == ["-c", "config_file=/etc/postgresql/postgresql.conf"]
    # production asks for 1GB of shared_buffers; a test machine may not have it to spare
    proc = subprocess.Popen(
        _as_postgres(
            [_pg_bin("postgres"), "-D", str(pgdata), "-c", f"config_file={conf_file}", "-c", "shared_buffers=32MB"]
        ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        probe = [a.replace("5432", str(port)) for a in server(docs)["readinessProbe"]["exec"]["command"]]
        probe[0] = _pg_bin("pg_isready") or "pg_isready"
        for _ in range(100):
            if subprocess.run(probe, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"postgres did not become ready:\n{log.read_text()}")

        env = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGUSER": "clipper",
            "PGPASSWORD": password,
            "PGDATABASE": "postgres",
        }

        def sql(query: str, db: str = "clipper_db") -> str:
            out = subprocess.run(
                ["psql", "-X", "-tA", "-d", db, "-c", query], env=env, capture_output=True, text=True, check=True
            )
            return out.stdout.strip()

        superuser = {**env, "PGUSER": "postgres", "PGPASSWORD": "superuser-pass"}
        subprocess.run(
            ["psql", "-X", "-c", "CREATE DATABASE clipper_db"], env=superuser, check=True, capture_output=True
        )
        available = set(
            subprocess.run(
                ["psql", "-X", "-tA", "-c", "SELECT name FROM pg_available_extensions"],
                env=superuser,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        wanted = [e for e in ("vector", "pgcrypto", "pg_trgm", "ltree") if e in available]
        assert len(wanted) >= 3, f"contrib extensions missing locally: {available}"
        init = render(CHART, {"auth": {"password": password}, "initdb": {"extensions": wanted}})
        script = find(init, "ConfigMap", f"{FULL}-initdb")["data"]["00-clipper-roles.sh"]
        init_env = {
            **superuser,
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "clipper_db",
            "POSTGRES_APP_USER": "clipper",
            "POSTGRES_APP_PASSWORD_FILE": str(pwfile),
        }
        ran = subprocess.run(["sh", "-c", script], env=init_env, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr
        assert sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "f"
        assert sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'clipper_db'") == "clipper"
        assert set(sql("SELECT extname FROM pg_extension").split()) >= set(wanted)
        assert sql("SHOW max_connections") == "550"
        assert sql("SHOW password_encryption") == "scram-sha-256"
        assert sql("SHOW work_mem") == "8MB"
        assert sql("SHOW maintenance_work_mem") == "256MB"
        assert sql("SHOW effective_cache_size") == "3GB"
        assert sql("SHOW hba_file") == str(pgdata / "pg_hba.conf")
        assert sql("SHOW data_checksums") == "on"
        sql("CREATE TABLE clips (id serial PRIMARY KEY, path ltree, title text)")
        sql("INSERT INTO clips (path, title) VALUES ('a.b', 'hello')")

        cron = cronjob_pod(docs)["containers"][0]
        job_env = {**os.environ, **{k: v for k, v in env_map(cron).items() if isinstance(v, str)}}
        job_env.update(
            {
                "PGHOST": "127.0.0.1",
                "PGPORT": str(port),
                "BACKUP_DIR": str(backups),
                "POSTGRES_PASSWORD_FILE": str(pwfile),
            }
        )
        job_env.pop("PGPASSWORD", None)
        for stamp in ("20200101T000000Z", "20200102T000000Z", "20200103T000000Z"):
            (backups / f"clipper_db-{stamp}.dump").write_text("old")
        (backups / "clipper_db-20200104T000000Z.dump.partial").write_text("stale")
        out = subprocess.run(cron["command"], env=job_env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        kept = sorted(p.name for p in backups.iterdir())
        assert len(kept) == 2 and kept[0] == "clipper_db-20200103T000000Z.dump", kept
        listing = subprocess.run(
            [_pg_bin("pg_restore") or "pg_restore", "--list", str(backups / kept[1])],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "TABLE public clips" in listing

        test_c = container(helm_test_spec(docs), "psql")
        test_env = {**os.environ, **{k: v for k, v in env_map(test_c).items() if isinstance(v, str)}}
        test_env.update({"PGHOST": "127.0.0.1", "PGPORT": str(port), "POSTGRES_PASSWORD_FILE": str(pwfile)})
        test_env.pop("PGPASSWORD", None)
        out = subprocess.run(test_c["command"], env=test_env, capture_output=True, text=True)
        if "vector" in available:
            assert out.returncode == 0, out.stderr
        else:
            assert out.returncode == 1 and "extension vector is missing" in out.stderr, out.stderr
        assert "login as clipper to clipper_db" in out.stdout
        (secret / "password").write_text("wrong password")
        out = subprocess.run(test_c["command"], env=test_env, capture_output=True, text=True)
        assert out.returncode != 0 and "password authentication failed" in out.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp_path, ignore_errors=True)


# --- least privilege: the application's role is not the superuser -------------------------------


def test_init_script_creates_the_application_role_without_superuser_rights():
    docs = render(CHART, {"initdb": {"extensions": ["vector", "ltree"]}})
    script = find(docs, "ConfigMap", f"{FULL}-initdb")["data"]["00-clipper-roles.sh"]
    assert '--username "$POSTGRES_USER"' in script, "the superuser runs the init script"
    assert "CREATE ROLE :\"app_user\" LOGIN PASSWORD :'app_password';" in script
    for power in ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"):
        assert power not in script, f"the application's role must not get {power}"
    assert 'ALTER DATABASE :"db" OWNER TO :"app_user";' in script
    assert script.index('CREATE EXTENSION IF NOT EXISTS "vector";') > script.index("ALTER DATABASE")
    assert 'CREATE EXTENSION IF NOT EXISTS "ltree";' in script and "pgcrypto" not in script
    # The password is read from the mounted file inside psql, never passed on a command line.
    assert '\\set app_password `cat "$POSTGRES_APP_PASSWORD_FILE"`' in script


def test_superuser_secret_is_separate_and_generated():
    docs = render(CHART)
    secret = find(docs, "Secret", f"{FULL}-superuser")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    superuser = base64.b64decode(secret["data"]["password"]).decode()
    assert len(superuser) == 32 and superuser != stored_password(docs)
    volumes = {v["name"]: v for v in pod(docs)["volumes"]}
    assert volumes["superuser-password"]["secret"]["secretName"] == f"{FULL}-superuser"
    annotations = sts(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/superuser-secret"] == hashlib.sha256(superuser.encode()).hexdigest()


def test_superuser_from_an_existing_secret():
    values = {"auth": {"superuser": {"username": "admin", "existingSecret": "pg-admin", "passwordKey": "pw"}}}
    docs = render(CHART, values)
    assert [d["metadata"]["name"] for d in find_all(docs, "Secret")] == [FULL]
    assert env_map(server(docs))["POSTGRES_USER"] == "admin"
    volume = {v["name"]: v for v in pod(docs)["volumes"]}["superuser-password"]["secret"]
    assert volume == {"secretName": "pg-admin", "defaultMode": 0o440, "items": [{"key": "pw", "path": "password"}]}
    assert "checksum/superuser-secret" not in sts(docs)["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_superuser_password_is_kept_and_not_silently_changed(fake_kube_api: FakeKube, helm: str) -> None:
    fake_kube_api.add_secret(f"{FULL}-superuser", {"password": "superuser-at-install"})
    docs = render_with_lookup(CHART, helm=helm)
    stored = find(docs, "Secret", f"{FULL}-superuser")["data"]["password"]
    assert base64.b64decode(stored).decode() == "superuser-at-install"
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, {"auth": {"superuser": {"password": "another-one"}}}, helm=helm)
    message = err.value.stderr
    assert f"auth.superuser.password differs from the password stored in Secret clipper/{FULL}-superuser" in message
    assert "run ALTER ROLE postgres PASSWORD '<new>'" in message


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_upgrade_of_a_superuser_layout_install_is_refused(fake_kube_api: FakeKube, helm: str) -> None:
    old_env = [{"name": "POSTGRES_USER", "value": "clipper"}, {"name": "POSTGRES_DB", "value": "clipper_db"}]
    fake_kube_api.add_statefulset(FULL, [{"name": "postgres", "env": old_env}])
    with pytest.raises(HelmError) as err:
        render_with_lookup(CHART, helm=helm)
    message = err.value.stderr
    assert f"StatefulSet clipper/{FULL} was installed by a chart version whose application role is" in message
    assert "helm-mgmt backup, uninstall with --delete-pvcs, install this version, helm-mgmt restore" in message
    new_env = [*old_env, {"name": "POSTGRES_APP_USER", "value": "clipper"}]
    fake_kube_api.add_statefulset(FULL, [{"name": "postgres", "env": new_env}])
    assert find(render_with_lookup(CHART, helm=helm), "StatefulSet", FULL)
