"""The backend chart: rollout, probes, wiring to PostgreSQL/Redis, app secrets, autoscaling,
network policy, exports, migrations hook and the helm test pod."""

from __future__ import annotations

import base64
import copy
import os
import re
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from charttest import chart_label, chart_path, container, env_map, example, find, find_all, render, selector
from fakekube import LOOKUP_HELMS, FakeKube, render_with_lookup

from helm_mgmt.helm import Helm, HelmError

# The fake_kube_api fixture: a stand-in API server for renders that look up earlier Secrets.
pytest_plugins = ["fakekube"]

CHART = "backend"
NAME = "clipper-backend"
SELECTOR = selector("backend", "api")
# Fixed app secrets: rendering skips generating an RSA key (slow) where the test is not about secrets.
FAKE_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----\n"
MFA_RAW = "0123456789abcdef0123456789abcdef"
FIXED = {"secrets": {"values": {"JWT_PRIVATE_KEY": FAKE_PEM, "MFA_ENCRYPTION_KEY": MFA_RAW}}}
SINGLE_REPLICA = {"autoscaling": {"enabled": False}, "replicaCount": 1, "podDisruptionBudget": {"enabled": False}}
MIGRATIONS_CM = {"migrations": {"enabled": True, "source": {"configMap": "clipper-migrations"}}}
# Secrets the sibling charts make (postgres, redis): referenced here, rendered by those charts.
SIBLING_SECRETS = {"clipper-postgres", "clipper-redis"}


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def fast(values: dict[str, Any] | None = None, **kwargs: Any) -> list[dict]:
    return render(CHART, merge(FIXED, values or {}), **kwargs)


@pytest.fixture(scope="module")
def default() -> list[dict]:
    return render(CHART)


@pytest.fixture(scope="module")
def staging() -> list[dict]:
    return render(CHART, env="staging")


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render(CHART, env="production")


def deployment(docs: list[dict]) -> dict:
    return find(docs, "Deployment", NAME)


def pod_spec(docs: list[dict]) -> dict:
    return deployment(docs)["spec"]["template"]["spec"]


def backend(docs: list[dict]) -> dict:
    return container(pod_spec(docs), "backend")


def config(docs: list[dict]) -> dict[str, str]:
    return find(docs, "ConfigMap", NAME)["data"]


def all_pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    specs = []
    for doc in docs:
        if doc["kind"] == "Pod":
            specs.append((doc["metadata"]["name"], doc["spec"]))
        elif doc["kind"] in ("Deployment", "Job", "StatefulSet"):
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return specs


# --- every object -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", [None, "staging", "production"])
def test_every_object_is_namespaced_and_labelled(env):
    docs = render(CHART, env=env) if env else fast()
    for doc in docs:
        assert doc["metadata"]["namespace"] == "clipper", doc["metadata"]["name"]
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "clipper"
        assert labels["app.kubernetes.io/version"] == "1.4.2"
        assert labels["helm.sh/chart"] == chart_label("backend")
        assert labels["app.kubernetes.io/name"] == "backend"


def test_default_render_has_the_expected_objects(default):
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in default)
    assert kinds == sorted(
        [
            ("ConfigMap", NAME),
            ("Deployment", NAME),
            ("HorizontalPodAutoscaler", NAME),
            ("NetworkPolicy", NAME),
            ("NetworkPolicy", f"{NAME}-test"),
            ("PodDisruptionBudget", NAME),
            ("Pod", f"{NAME}-test-ready"),
            ("Secret", NAME),
            ("Service", NAME),
            ("ServiceAccount", NAME),
        ]
    )


# --- Deployment: rollout, probes, image ------------------------------------------------------


def test_deployment_rolls_one_pod_at_a_time_and_drains_before_stopping(default):
    dep = deployment(default)
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert dep["spec"]["selector"]["matchLabels"] == SELECTOR
    assert dep["spec"]["template"]["metadata"]["labels"].items() >= SELECTOR.items()
    spec = pod_spec(default)
    assert spec["terminationGracePeriodSeconds"] == 30
    assert backend(default)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]


def test_prestop_is_configurable_and_can_be_turned_off():
    c = backend(fast({"preStop": {"sleepSeconds": 15}}))
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert "lifecycle" not in backend(fast({"preStop": {"enabled": False}}))


@pytest.mark.parametrize(
    ("probe", "path", "period", "timeout", "failures"),
    [
        ("startupProbe", "/health/live", 2, 3, 30),
        ("livenessProbe", "/health/live", 20, 5, 3),
        ("readinessProbe", "/health/ready", 10, 5, 3),
    ],
)
def test_probes(default, probe, path, period, timeout, failures):
    p = backend(default)[probe]
    assert p["httpGet"] == {"path": path, "port": "http"}
    assert p["periodSeconds"] == period
    assert p["timeoutSeconds"] == timeout
    assert p["failureThreshold"] == failures


def test_readiness_timeout_exceeds_the_apps_dependency_ping(default):
    # /health/ready pings PostgreSQL and Redis with a 3 s timeout each.
    assert backend(default)["readinessProbe"]["timeoutSeconds"] > 3


def test_probes_can_be_disabled():
    c = backend(fast({"startupProbe": {"enabled": False}, "livenessProbe": {"enabled": False}}))
    assert "startupProbe" not in c and "livenessProbe" not in c
    assert "readinessProbe" in c


def test_port_is_named_http_and_passed_as_port_env(default):
    assert backend(default)["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert config(default)["PORT"] == "8080"
    docs = fast({"containerPort": 9090})
    assert backend(docs)["ports"][0]["containerPort"] == 9090
    assert config(docs)["PORT"] == "9090"
    assert find(docs, "Service", NAME)["spec"]["ports"][0]["targetPort"] == "http"


def test_image_is_pinned_to_app_version_and_digest_wins(default):
    # The chart's defaults plus examples/values-minimal.yaml (a non-root image in the user's registry).
    assert backend(default)["image"] == "registry.example.com/clipper/backend:1.4.2"
    digest = "sha256:" + "b" * 64
    docs = fast({"image": {"digest": digest}, "global": {"imageRegistry": "mirror.example.com"}})
    assert backend(docs)["image"] == f"mirror.example.com/clipper/backend@{digest}"


def test_image_pull_secrets_merge_global_and_local():
    docs = fast({"imagePullSecrets": ["local", "shared"], "global": {"imagePullSecrets": ["shared"]}})
    assert pod_spec(docs)["imagePullSecrets"] == [{"name": "shared"}, {"name": "local"}]


# --- security ---------------------------------------------------------------------------------

FULL = merge(
    MIGRATIONS_CM,
    {"migrations": {"source": {"configMap": "", "image": {"repository": "ghcr.io/example/migrations", "tag": "1"}}}},
)


@pytest.mark.parametrize("helm", ["helm4", "helm3-oldest"])
def test_every_container_is_hardened(helm):
    docs = fast(FULL, helm=helm, kube_version="1.29.0")
    specs = all_pod_specs(docs)
    assert {name for name, _ in specs} == {NAME, f"{NAME}-migrations", f"{NAME}-test-ready"}
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["runAsUser"] >= 1000 and psc["runAsGroup"] >= 1000 and psc["fsGroup"] >= 1000, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        containers = spec["containers"] + spec.get("initContainers", [])
        assert len(containers) >= 1
        for c in containers:
            sc = c["securityContext"]
            where = f"{name}/{c['name']}"
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] == 65532, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) >= {"cpu", "memory"}, where


def test_helper_containers_stay_restricted_when_the_app_runs_as_root():
    root = {"runAsNonRoot": False, "runAsUser": 0}
    docs = fast({"podSecurityContext": root, "securityContext": {**root, "readOnlyRootFilesystem": True}})
    assert backend(docs)["securityContext"]["runAsUser"] == 0
    wait = container(pod_spec(docs), "wait-for-dependencies")
    assert wait["securityContext"]["runAsUser"] == 65532
    assert wait["securityContext"]["runAsNonRoot"] is True


def test_root_filesystem_is_read_only_with_writable_tmp_and_exports(default):
    c = backend(default)
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"exports": "/exports", "tmp": "/tmp"}
    volumes = {v["name"]: v for v in pod_spec(default)["volumes"]}
    assert volumes["exports"]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "256Mi"}
    assert config(default)["EXPORT_DIR"] == "/exports"


def test_service_account_has_no_token(default):
    sa = find(default, "ServiceAccount", NAME)
    assert sa["automountServiceAccountToken"] is False
    assert pod_spec(default)["serviceAccountName"] == NAME
    assert pod_spec(fast({"serviceAccount": {"create": False}}))["serviceAccountName"] == "default"


# --- resources and autoscaling per environment --------------------------------------------------


@pytest.mark.parametrize(
    ("env", "requests", "limits"),
    [
        (None, {"cpu": "100m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("staging", {"cpu": "100m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("production", {"cpu": "250m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "1Gi"}),
    ],
)
def test_resources_per_environment(env, requests, limits, default, staging, production):
    docs = {None: default, "staging": staging, "production": production}[env]
    assert backend(docs)["resources"] == {"requests": requests, "limits": limits}


@pytest.mark.parametrize(("env", "low", "high"), [(None, 2, 10), ("staging", 2, 4), ("production", 3, 20)])
def test_hpa_bounds_targets_and_behaviour(env, low, high, default, staging, production):
    docs = {None: default, "staging": staging, "production": production}[env]
    hpa = find(docs, "HorizontalPodAutoscaler", NAME)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (low, high)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
    }
    assert "replicas" not in deployment(docs)["spec"]


def test_replicas_rendered_without_hpa():
    docs = fast({"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert deployment(docs)["spec"]["replicas"] == 3
    assert not find_all(docs, "HorizontalPodAutoscaler")


def test_pdb_keeps_one_pod(default):
    pdb = find(default, "PodDisruptionBudget", NAME)["spec"]
    assert pdb == {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}}
    assert not find_all(fast({"podDisruptionBudget": {"enabled": False}}), "PodDisruptionBudget")


# --- scheduling ---------------------------------------------------------------------------------


def test_default_spread_over_zones_and_nodes_with_soft_anti_affinity(default):
    spec = pod_spec(default)
    spread = spec["topologySpreadConstraints"]
    assert [(t["topologyKey"], t["whenUnsatisfiable"]) for t in spread] == [
        ("topology.kubernetes.io/zone", "ScheduleAnyway"),
        ("kubernetes.io/hostname", "ScheduleAnyway"),
    ]
    assert all(t["labelSelector"]["matchLabels"] == SELECTOR for t in spread)
    preferred = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == SELECTOR
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in spec["affinity"]["podAntiAffinity"]


def test_scheduling_overrides():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    spread = [{"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]
    spec = pod_spec(
        fast(
            {
                "affinity": affinity,
                "topologySpreadConstraints": spread,
                "priorityClassName": "clipper-high",
                "nodeSelector": {"pool": "api"},
                "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            }
        )
    )
    assert spec["affinity"] == affinity
    assert spec["topologySpreadConstraints"] == spread
    assert spec["priorityClassName"] == "clipper-high"
    assert spec["nodeSelector"] == {"pool": "api"}
    spec = pod_spec(fast({"podAntiAffinityPreset": "none", "defaultTopologySpread": False}))
    assert "affinity" not in spec and "topologySpreadConstraints" not in spec


# --- configuration ------------------------------------------------------------------------------


def test_configmap_holds_plain_settings_only(default):
    data = config(default)
    assert data == {
        "PORT": "8080",
        "GIN_MODE": "release",
        "ENVIRONMENT": "production",
        "LOG_FORMAT": "json",
        "BASE_URL": "https://clpr.tv",
        "CORS_ALLOWED_ORIGINS": "https://clpr.tv",
        "WEBSOCKET_ALLOWED_ORIGINS": "https://clpr.tv",
        "OPENSEARCH_INSECURE_SKIP_VERIFY": "false",
        "EXPORT_DIR": "/exports",
        "DB_HOST": "clipper-postgres",
        "DB_PORT": "5432",
        "DB_USER": "clipper",
        "DB_NAME": "clipper_db",
        "DB_SSLMODE": "disable",
        "REDIS_HOST": "clipper-redis",
        "REDIS_PORT": "6379",
        "REDIS_DB": "0",
    }
    for unread in ("JWT_SECRET", "LOG_LEVEL", "RATE_LIMIT_ENABLED"):
        assert unread not in data


def test_public_origin_follows_global_host_then_host(staging):
    assert config(staging)["CORS_ALLOWED_ORIGINS"] == "https://staging.clpr.tv"
    data = config(fast({"host": "example.org", "global": {"host": "clpr.example"}}))
    assert (
        data["BASE_URL"] == data["CORS_ALLOWED_ORIGINS"] == data["WEBSOCKET_ALLOWED_ORIGINS"] == "https://clpr.example"
    )
    data = config(fast({"config": {"CORS_ALLOWED_ORIGINS": "https://a.example,https://b.example"}}))
    assert data["CORS_ALLOWED_ORIGINS"] == "https://a.example,https://b.example"
    assert data["WEBSOCKET_ALLOWED_ORIGINS"] == "https://clpr.tv"


def test_extra_config_and_optional_settings():
    data = config(
        fast(
            {
                "config": {"TWITCH_CLIENT_ID": "abc", "SENTRY_ENABLED": True, "SENTRY_TRACES_SAMPLE_RATE": 0.2},
                "extraConfig": {"FEATURE_WATCH_PARTIES": "true", "RATE_LIMIT_WHITELIST_IPS": "10.1.2.3"},
            }
        )
    )
    assert data["TWITCH_CLIENT_ID"] == "abc"
    assert data["SENTRY_ENABLED"] == "true"
    assert data["SENTRY_TRACES_SAMPLE_RATE"] == "0.2"
    assert data["FEATURE_WATCH_PARTIES"] == "true"
    assert data["RATE_LIMIT_WHITELIST_IPS"] == "10.1.2.3"


def test_settings_and_secrets_reach_the_container(default):
    c = backend(default)
    assert c["envFrom"] == [{"configMapRef": {"name": NAME}}, {"secretRef": {"name": NAME}}]
    env = env_map(c)
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "clipper-postgres", "key": "password"}}
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "clipper-redis", "key": "redis-password"}}
    assert env["MFA_ENCRYPTION_KEY"] == {"secretKeyRef": {"name": NAME, "key": "MFA_ENCRYPTION_KEY"}}
    # Two or more replicas: the shared JWT key is required, a missing key stops the pod visibly.
    assert env["JWT_PRIVATE_KEY"]["secretKeyRef"]["optional"] is False


def test_jwt_key_is_optional_with_a_single_replica():
    docs = fast({"autoscaling": {"enabled": False}, "replicaCount": 1, "podDisruptionBudget": {"enabled": False}})
    assert env_map(backend(docs))["JWT_PRIVATE_KEY"]["secretKeyRef"]["optional"] is True


def test_extra_env_is_merged_by_name_user_wins():
    docs = fast(
        {
            "extraEnv": [
                {"name": "CDN_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "other", "key": "pw"}}},
                {"name": "GOMAXPROCS", "value": "2"},
            ],
            "extraEnvFrom": [{"configMapRef": {"name": "more-settings"}}],
        }
    )
    c = backend(docs)
    env = env_map(c)  # fails on duplicates
    assert env["CDN_API_TOKEN"] == {"secretKeyRef": {"name": "other", "key": "pw"}}
    assert env["GOMAXPROCS"] == "2"
    assert {"configMapRef": {"name": "more-settings"}} in c["envFrom"]


def test_extra_volumes_sidecars_and_init_containers():
    sidecar = {"name": "proxy", "image": "example/proxy:1"}
    init = {"name": "prepare", "image": "example/prepare:1"}
    spec = pod_spec(
        fast(
            {
                "extraVolumes": [{"name": "certs", "secret": {"secretName": "ca"}}],
                "extraVolumeMounts": [{"name": "certs", "mountPath": "/etc/ssl/extra", "readOnly": True}],
                "sidecars": [sidecar],
                "initContainers": [init],
            }
        )
    )
    assert {"name": "certs", "secret": {"secretName": "ca"}} in spec["volumes"]
    assert {"name": "certs", "mountPath": "/etc/ssl/extra", "readOnly": True} in container(spec, "backend")[
        "volumeMounts"
    ]
    assert spec["containers"][1] == sidecar
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-dependencies", "prepare"]


# --- wiring to PostgreSQL and Redis -------------------------------------------------------------


def test_hosts_follow_the_release_service_names():
    docs = fast(release="shop")
    data = find(docs, "ConfigMap", "shop-backend")["data"]
    assert (data["DB_HOST"], data["REDIS_HOST"]) == ("shop-postgres", "shop-redis")
    env = env_map(container(find(docs, "Deployment", "shop-backend")["spec"]["template"]["spec"], "backend"))
    assert env["DB_PASSWORD"]["secretKeyRef"]["name"] == "shop-postgres"
    assert env["REDIS_PASSWORD"]["secretKeyRef"]["name"] == "shop-redis"


def test_global_connection_values_win_and_local_ones_fill_in():
    """The precedence rule of every chart: a non-empty global wins, the chart's own value applies
    where the global is empty (a conflicting pair is refused: see the bad-values cases)."""
    glob = {
        "global": {
            "postgres": {"username": "app", "database": "appdb", "existingSecret": "pg-auth", "passwordKey": "pw"},
            "redis": {"existingSecret": "redis-auth", "passwordKey": "rpw"},
        }
    }
    docs = fast(glob)
    data = config(docs)
    env = env_map(backend(docs))
    assert (data["DB_USER"], data["DB_NAME"]) == ("app", "appdb")
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "pg-auth", "key": "pw"}}
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "redis-auth", "key": "rpw"}}
    same = {"database": {"user": "app", "name": "appdb"}, "redis": {"passwordKey": "rpw"}}
    assert config(fast(merge(glob, same)))["DB_USER"] == "app", "a local value equal to the global is accepted"
    local = {
        "database": {
            "host": "pg.example.internal",
            "port": 6432,
            "user": "local-user",
            "name": "local_db",
            "sslmode": "verify-full",
            "existingSecret": "mine",
            "passwordKey": "k",
        },
        "redis": {
            "host": "redis.example.internal",
            "port": 6380,
            "db": 2,
            "existingSecret": "r",
            "passwordKey": "rk",
        },
    }
    docs = fast(local)
    data = config(docs)
    env = env_map(backend(docs))
    assert data["DB_HOST"] == "pg.example.internal" and data["DB_PORT"] == "6432"
    assert (data["DB_USER"], data["DB_NAME"], data["DB_SSLMODE"]) == ("local-user", "local_db", "verify-full")
    assert (data["REDIS_HOST"], data["REDIS_PORT"], data["REDIS_DB"]) == ("redis.example.internal", "6380", "2")
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "mine", "key": "k"}}
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "r", "key": "rk"}}


def test_wait_for_dependencies_init_container(default):
    wait = container(pod_spec(default), "wait-for-dependencies")
    assert wait["image"] == "docker.io/library/busybox:1.37.0"
    env = env_map(wait)
    assert env == {
        "DB_HOST": "clipper-postgres",
        "DB_PORT": "5432",
        "REDIS_HOST": "clipper-redis",
        "REDIS_PORT": "6379",
    }
    script = wait["command"][-1]
    assert 'nc -z -w 2 "$host" "$port"' in script
    assert "+ 300" in script and "exit 1" in script
    assert pod_spec(default)["initContainers"][0]["name"] == "wait-for-dependencies"
    spec = pod_spec(fast({"waitForDependencies": {"enabled": False}}))
    assert "initContainers" not in spec


def test_helper_image_follows_tests_image():
    docs = fast({"tests": {"image": {"repository": "clipper.local/toolbox", "tag": "local"}}})
    assert container(pod_spec(docs), "wait-for-dependencies")["image"] == "clipper.local/toolbox:local"
    assert find(docs, "Pod", f"{NAME}-test-ready")["spec"]["containers"][0]["image"] == "clipper.local/toolbox:local"
    docs = fast({"waitForDependencies": {"image": {"repository": "example/nc", "tag": "2"}}})
    assert container(pod_spec(docs), "wait-for-dependencies")["image"] == "example/nc:2"


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs a POSIX shell to run the wait script")
def test_wait_script_gives_up_with_a_message(tmp_path):
    wait = container(pod_spec(fast({"waitForDependencies": {"timeoutSeconds": 1}})), "wait-for-dependencies")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_nc = bindir / "nc"
    fake_nc.write_text("#!/bin/sh\nexit 1\n")
    fake_nc.chmod(fake_nc.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, **env_map(wait), "PATH": f"{bindir}:{os.environ['PATH']}"}
    proc = subprocess.run(wait["command"], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert "clipper-postgres:5432 does not accept connections" in proc.stderr


# --- app secrets ----------------------------------------------------------------------------------


def secret_data(docs: list[dict]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in find(docs, "Secret", NAME)["data"].items()}


def test_chart_made_secret_generates_the_keys_once(default):
    secret = find(default, "Secret", NAME)
    data = secret_data(default)
    assert set(data) == {"JWT_PRIVATE_KEY", "MFA_ENCRYPTION_KEY"}
    assert len(data["MFA_ENCRYPTION_KEY"]) == 32
    assert data["JWT_PRIVATE_KEY"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    annotations = secret["metadata"]["annotations"]
    assert annotations["helm.sh/resource-policy"] == "keep"
    assert set(annotations["clpr.tv/generated-keys"].split(",")) == {"JWT_PRIVATE_KEY", "MFA_ENCRYPTION_KEY"}
    # secret.yaml and the checksum see the same generated data within one render.
    checksum = deployment(default)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    assert len(checksum) == 64


def test_chart_made_secret_uses_given_values():
    b64_key = base64.b64encode(b"k" * 32).decode()
    docs = render(
        CHART,
        {
            "secrets": {
                "values": {"JWT_PRIVATE_KEY": FAKE_PEM, "MFA_ENCRYPTION_KEY": b64_key, "SENDGRID_API_KEY": "SG.x"},
                "extraValues": {"CDN_API_KEY": "cdn"},
            }
        },
    )
    secret = find(docs, "Secret", NAME)
    assert secret_data(docs) == {
        "JWT_PRIVATE_KEY": FAKE_PEM,
        "MFA_ENCRYPTION_KEY": b64_key,
        "SENDGRID_API_KEY": "SG.x",
        "CDN_API_KEY": "cdn",
    }
    assert "clpr.tv/generated-keys" not in secret["metadata"]["annotations"]


def test_existing_secret_is_used_as_is():
    docs = render(CHART, {"secrets": {"existingSecret": "clipper-app-secrets"}})
    assert not find_all(docs, "Secret") and not find_all(docs, "ExternalSecret")
    c = backend(docs)
    assert {"secretRef": {"name": "clipper-app-secrets"}} in c["envFrom"]
    assert env_map(c)["MFA_ENCRYPTION_KEY"]["secretKeyRef"]["name"] == "clipper-app-secrets"
    assert "checksum/secret" not in deployment(docs)["spec"]["template"]["metadata"]["annotations"]


def test_external_secret(production):
    assert not find_all(production, "Secret")
    es = find(production, "ExternalSecret", NAME)
    assert es["apiVersion"] == "external-secrets.io/v1"
    spec = es["spec"]
    assert spec["secretStoreRef"] == {"name": "vault-backend", "kind": "ClusterSecretStore"}
    assert spec["refreshInterval"] == "1h"
    assert spec["target"]["name"] == NAME
    assert spec["target"]["creationPolicy"] == "Owner"
    by_key = {d["secretKey"]: d["remoteRef"] for d in spec["data"]}
    assert by_key["JWT_PRIVATE_KEY"] == {"key": "clipper/backend", "property": "JWT_PRIVATE_KEY"}
    assert by_key["MFA_ENCRYPTION_KEY"] == {"key": "clipper/backend", "property": "MFA_ENCRYPTION_KEY"}
    assert {"secretRef": {"name": NAME}} in backend(production)["envFrom"]
    assert "checksum/secret" in deployment(production)["spec"]["template"]["metadata"]["annotations"]


def test_external_secret_key_mapping():
    docs = render(
        CHART,
        {
            "externalSecret": {
                "enabled": True,
                "secretStoreRef": {"name": "aws", "kind": "SecretStore"},
                "remoteKey": "prod/clipper",
                "keys": [
                    "MFA_ENCRYPTION_KEY",
                    {"secretKey": "JWT_PRIVATE_KEY", "remoteKey": "prod/jwt", "property": "pem"},
                    {"secretKey": "SENTRY_DSN"},
                ],
            }
        },
    )
    data = find(docs, "ExternalSecret", NAME)["spec"]["data"]
    assert data == [
        {"secretKey": "MFA_ENCRYPTION_KEY", "remoteRef": {"key": "prod/clipper", "property": "MFA_ENCRYPTION_KEY"}},
        {"secretKey": "JWT_PRIVATE_KEY", "remoteRef": {"key": "prod/jwt", "property": "pem"}},
        {"secretKey": "SENTRY_DSN", "remoteRef": {"key": "prod/clipper", "property": "SENTRY_DSN"}},
    ]


def test_single_replica_may_run_without_jwt_key():
    values = {
        "autoscaling": {"enabled": False},
        "replicaCount": 1,
        "podDisruptionBudget": {"enabled": False},
        "secrets": {"generate": False, "values": {"MFA_ENCRYPTION_KEY": MFA_RAW}},
    }
    assert secret_data(render(CHART, values)) == {"MFA_ENCRYPTION_KEY": MFA_RAW}


def test_every_referenced_secret_and_configmap_exists_or_is_documented(default, production):
    documented = SIBLING_SECRETS | {"clipper-migrations"}
    for docs in (default, production, fast(MIGRATIONS_CM)):
        rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}
        if find_all(docs, "ExternalSecret"):
            rendered.add(("Secret", find(docs, "ExternalSecret", NAME)["spec"]["target"]["name"]))
        for name, spec in all_pod_specs(docs):
            for c in spec["containers"] + spec.get("initContainers", []):
                refs = []
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {})
                    if "secretKeyRef" in ref:
                        refs.append(("Secret", ref["secretKeyRef"]["name"]))
                    if "configMapKeyRef" in ref:
                        refs.append(("ConfigMap", ref["configMapKeyRef"]["name"]))
                for e in c.get("envFrom", []):
                    if "secretRef" in e:
                        refs.append(("Secret", e["secretRef"]["name"]))
                    if "configMapRef" in e:
                        refs.append(("ConfigMap", e["configMapRef"]["name"]))
                for ref in refs:
                    assert ref in rendered or ref[1] in documented, f"{name}/{c['name']} references {ref}"
            for v in spec.get("volumes", []):
                if "configMap" in v:
                    ref = ("ConfigMap", v["configMap"]["name"])
                    assert ref in rendered or ref[1] in documented, f"{name} mounts {ref}"


# --- rollouts follow config -----------------------------------------------------------------------


def annotations(docs: list[dict]) -> dict[str, str]:
    return deployment(docs)["spec"]["template"]["metadata"]["annotations"]


def test_checksums_change_when_config_or_secret_changes():
    base = annotations(fast())
    assert annotations(fast())["checksum/config"] == base["checksum/config"]
    assert annotations(fast())["checksum/secret"] == base["checksum/secret"]
    changed = annotations(fast({"config": {"GIN_MODE": "debug"}}))
    assert changed["checksum/config"] != base["checksum/config"]
    assert changed["checksum/secret"] == base["checksum/secret"]
    changed = annotations(fast({"secrets": {"values": {"SENTRY_DSN": "https://k@sentry.example/1"}}}))
    assert changed["checksum/secret"] != base["checksum/secret"]
    assert changed["checksum/config"] == base["checksum/config"]


def test_pod_annotations_and_labels():
    meta = deployment(fast({"podAnnotations": {"a": "1"}, "podLabels": {"team": "api"}}))["spec"]["template"][
        "metadata"
    ]
    assert meta["annotations"]["a"] == "1"
    assert meta["labels"]["team"] == "api"


# --- Service ---------------------------------------------------------------------------------------


def test_service(default):
    svc = find(default, "Service", NAME)["spec"]
    assert svc["type"] == "ClusterIP"
    assert svc["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert svc["selector"] == SELECTOR
    assert "sessionAffinity" not in svc
    assert (
        find(fast({"service": {"sessionAffinity": "ClientIP"}}), "Service", NAME)["spec"]["sessionAffinity"]
        == "ClientIP"
    )


# --- NetworkPolicy --------------------------------------------------------------------------------


def netpol(docs: list[dict], name: str = NAME) -> dict:
    return find(docs, "NetworkPolicy", name)["spec"]


def egress_by_port(spec: dict) -> dict[int, dict]:
    out = {}
    for rule in spec["egress"]:
        for port in rule["ports"]:
            out[(port["port"], port["protocol"])] = rule
    return out


def test_network_policy_ingress(default):
    spec = netpol(default)
    assert spec["podSelector"]["matchLabels"] == SELECTOR
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    sources = [rule["from"][0] for rule in spec["ingress"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "clipper-monitoring"}}} in sources
    assert {"podSelector": {"matchLabels": {**SELECTOR, "app.kubernetes.io/component": "test"}}} in sources
    assert len(sources) == 3
    for rule in spec["ingress"]:
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_network_policy_egress(default):
    rules = egress_by_port(netpol(default))
    assert (53, "UDP") in rules and (53, "TCP") in rules
    assert rules[(5432, "TCP")]["to"] == [{"podSelector": {"matchLabels": selector("postgres")}}]
    assert rules[(6379, "TCP")]["to"] == [{"podSelector": {"matchLabels": selector("redis")}}]
    https = rules[(443, "TCP")]["to"][0]["ipBlock"]
    assert https["cidr"] == "0.0.0.0/0"
    assert https["except"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
    assert (9200, "TCP") not in rules
    assert set(rules) == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (443, "TCP")}


def test_network_policy_external_servers_opensearch_and_extras():
    peer = [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    docs = fast(
        {
            "database": {"host": "pg.example.internal"},
            "redis": {"host": "redis.example.internal"},
            "config": {"OPENSEARCH_URL": "https://search.example.internal:9200"},
            "networkPolicy": {
                "redis": {"to": peer},
                "opensearch": {"to": peer},
                "ingressController": {"namespace": "traefik"},
                "monitoring": {"enabled": False},
                "externalHTTPS": {"enabled": False},
                "extraEgress": [{"ports": [{"port": 4317, "protocol": "TCP"}]}],
                "extraIngress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}]}],
            },
        }
    )
    spec = netpol(docs)
    rules = egress_by_port(spec)
    assert "to" not in rules[(5432, "TCP")]  # external database without peers: any address on 5432
    assert rules[(6379, "TCP")]["to"] == peer
    assert rules[(9200, "TCP")]["to"] == peer
    assert (443, "TCP") not in rules
    assert (4317, "TCP") in rules
    sources = [rule["from"][0] for rule in spec["ingress"]]
    assert sources[0] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    assert {"podSelector": {"matchLabels": {"app": "x"}}} in sources
    assert len(sources) == 3


def test_test_pod_network_policy(default):
    spec = netpol(default, f"{NAME}-test")
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    assert spec["ingress"] == []
    rules = egress_by_port(spec)
    assert rules[(8080, "TCP")]["to"] == [{"podSelector": {"matchLabels": SELECTOR}}]
    assert (53, "UDP") in rules
    annotations = find(default, "NetworkPolicy", f"{NAME}-test")["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"


def test_network_policy_can_be_disabled():
    assert not find_all(fast({"networkPolicy": {"enabled": False}}), "NetworkPolicy")


# --- exports --------------------------------------------------------------------------------------


def test_exports_on_a_shared_claim():
    docs = fast(
        {
            "exports": {
                "mountPath": "/data/exports",
                "persistence": {
                    "enabled": True,
                    "size": "20Gi",
                    "storageClassName": "nfs",
                    "accessMode": "ReadWriteMany",
                },
            }
        }
    )
    pvc = find(docs, "PersistentVolumeClaim", f"{NAME}-exports")
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "nfs",
        "resources": {"requests": {"storage": "20Gi"}},
    }
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["exports"] == {"name": "exports", "persistentVolumeClaim": {"claimName": f"{NAME}-exports"}}
    assert config(docs)["EXPORT_DIR"] == "/data/exports"
    assert {"name": "exports", "mountPath": "/data/exports"} in backend(docs)["volumeMounts"]


def test_exports_storage_class_falls_back_to_global_and_existing_claim():
    rwx = {"enabled": True, "accessMode": "ReadWriteMany"}
    docs = fast({"exports": {"persistence": rwx}, "global": {"storageClass": "fast"}})
    assert find(docs, "PersistentVolumeClaim", f"{NAME}-exports")["spec"]["storageClassName"] == "fast"
    docs = fast({"exports": {"persistence": {"enabled": True, "existingClaim": "shared-exports"}}})
    assert not find_all(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["exports"]["persistentVolumeClaim"] == {"claimName": "shared-exports"}


# --- standalone ingress ---------------------------------------------------------------------------


def test_ingress_is_off_by_default(default):
    assert not find_all(default, "Ingress")


def test_ingress_routes_backend_paths_with_tls():
    docs = fast({"ingress": {"enabled": True}, "global": {"host": "staging.clpr.tv"}})
    ing = find(docs, "Ingress", NAME)
    ann = ing["metadata"]["annotations"]
    assert ann["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    spec = ing["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"secretName": f"{NAME}-tls", "hosts": ["staging.clpr.tv"]}]
    rule = spec["rules"][0]
    assert rule["host"] == "staging.clpr.tv"
    paths = {p["path"]: p["pathType"] for p in rule["http"]["paths"]}
    assert paths == {
        "/api": "Prefix",
        "/health": "Prefix",
        "/sitemap.xml": "Exact",
        "/robots.txt": "Exact",
        "/clips/streamer": "Prefix",
        "/clips/game": "Prefix",
        "/clips/best": "Prefix",
    }
    assert not any(p.startswith("/debug") or p == "/" for p in paths)
    for p in rule["http"]["paths"]:
        assert p["backend"] == {"service": {"name": NAME, "port": {"name": "http"}}}


def test_ingress_overrides():
    docs = fast(
        {
            "ingress": {
                "enabled": True,
                "className": "traefik",
                "clusterIssuer": "",
                "annotations": {"example.com/x": "on-purpose"},
                "hosts": ["api.example.org"],
                "tls": [{"secretName": "api-cert"}],
            }
        }
    )
    ing = find(docs, "Ingress", NAME)
    assert ing["metadata"]["annotations"] == {"example.com/x": "on-purpose"}
    assert ing["spec"]["tls"] == [{"secretName": "api-cert", "hosts": ["api.example.org"]}]
    assert ing["spec"]["rules"][0]["host"] == "api.example.org"


# --- migrations hook -------------------------------------------------------------------------------


def test_migrations_are_off_by_default(default):
    assert not find_all(default, "Job")


def test_migrations_job_from_a_configmap():
    docs = fast(MIGRATIONS_CM)
    job = find(docs, "Job", f"{NAME}-migrations")
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "pre-upgrade"  # before the first install the pods' init containers migrate
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["activeDeadlineSeconds"] == 600
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert "serviceAccountName" not in spec  # a pre-install hook runs before the chart's ServiceAccount exists
    migrate = container(spec, "migrate")
    assert migrate["image"] == "docker.io/migrate/migrate:v4.18.1"
    assert migrate["command"][-1] == "up"
    env = env_map(migrate)
    assert env["DB_HOST"] == "clipper-postgres"
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "clipper-postgres", "key": "password"}}
    assert env["DB_SSLMODE"] == "disable"
    assert {"name": "migrations", "configMap": {"name": "clipper-migrations"}} in spec["volumes"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-dependencies"]
    np = netpol(docs, f"{NAME}-migrations")
    assert np["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "migrations"
    assert (5432, "TCP") in egress_by_port(np)
    np_ann = find(docs, "NetworkPolicy", f"{NAME}-migrations")["metadata"]["annotations"]
    assert np_ann["helm.sh/hook"] == ann["helm.sh/hook"]
    assert int(np_ann["helm.sh/hook-weight"]) < int(ann["helm.sh/hook-weight"])


def test_migrations_from_an_image_and_umbrella_hooks():
    docs = fast(
        merge(FULL, {"migrations": {"hooks": "post-install,pre-upgrade", "source": {"path": "/app/migrations"}}})
    )
    job = find(docs, "Job", f"{NAME}-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    spec = job["spec"]["template"]["spec"]
    copy_init = container(spec, "copy-migrations")
    assert copy_init["image"] == "ghcr.io/example/migrations:1"
    assert env_map(copy_init)["SOURCE"] == "/app/migrations"
    assert {"name": "migrations", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]


IMAGE_WITH_MIGRATIONS = {
    "migrations": {"enabled": True, "image": {"repository": "registry.example.com/clipper/migrations", "tag": "1.4.2"}}
}


def test_migrations_run_in_every_pod_before_the_app():
    """From an image that holds migrate and the files: an init container after the wait, reading the
    image's own folder, so no pod serves before the schema is at its version."""
    docs = fast(IMAGE_WITH_MIGRATIONS)
    spec = pod_spec(docs)
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-dependencies", "migrate"]
    migrate = container(spec, "migrate")
    assert migrate["image"] == "registry.example.com/clipper/migrations:1.4.2"
    assert 'migrate -path "/migrations"' in migrate["command"][2]
    assert migrate["command"][-1] == "up"
    assert env_map(migrate)["DB_PASSWORD"] == {"secretKeyRef": {"name": "clipper-postgres", "key": "password"}}
    assert "volumeMounts" not in migrate
    assert "migrations" not in {v["name"] for v in spec["volumes"]}
    sc = migrate["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    # The same containers in the pre-upgrade hook Job, which fails an upgrade before any pod rolls.
    job = find(docs, "Job", f"{NAME}-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    job_spec = job["spec"]["template"]["spec"]
    assert [c["name"] for c in job_spec["initContainers"]] == ["wait-for-dependencies"]
    assert container(job_spec, "migrate")["command"] == migrate["command"]


def test_migrations_copied_from_a_source_image_never_overwrite_their_source():
    """The copy goes to /run/migrations, never onto the source folder (the old `cp: '/migrations/.'
    and '/migrations/.' are the same file`)."""
    spec = pod_spec(fast(FULL))
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-dependencies", "copy-migrations", "migrate"]
    copy = container(spec, "copy-migrations")
    assert env_map(copy)["SOURCE"] == "/migrations"
    assert copy["volumeMounts"] == [{"name": "migrations", "mountPath": "/run/migrations"}]
    assert 'migrate -path "/run/migrations"' in container(spec, "migrate")["command"][2]
    assert {"name": "migrations", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]


def test_migrations_in_pods_or_job_can_each_be_turned_off():
    no_init = fast(merge(IMAGE_WITH_MIGRATIONS, {"migrations": {"initContainer": False}}))
    assert [c["name"] for c in pod_spec(no_init)["initContainers"]] == ["wait-for-dependencies"]
    assert find(no_init, "Job", f"{NAME}-migrations")
    no_job = fast(merge(IMAGE_WITH_MIGRATIONS, {"migrations": {"hookJob": False}}))
    assert not find_all(no_job, "Job")
    assert "migrate" in [c["name"] for c in pod_spec(no_job)["initContainers"]]


@pytest.mark.parametrize("password", ["simple", "p@ss:w/o?r#d%20 $`\"'&=+é", "€uro;--"])
def test_migrations_url_survives_any_password(tmp_path, password):
    """Run the Job's shell step with a stub `migrate` and parse the URL it receives."""
    migrate = container(find(fast(MIGRATIONS_CM), "Job", f"{NAME}-migrations")["spec"]["template"]["spec"], "migrate")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "migrate"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in env_map(migrate).items() if isinstance(v, str)}
    env.update(DB_PASSWORD=password, DB_USER="clip per", PATH=f"{bindir}:{os.environ['PATH']}")
    proc = subprocess.run(migrate["command"], env=env, capture_output=True, text=True, timeout=30, check=True)
    args = proc.stdout.splitlines()
    assert args[:4] == ["-path", "/run/migrations", "-database", args[3]]
    assert args[4:] == ["up"]
    url = urlsplit(args[3])
    assert url.scheme == "postgres"
    assert (url.hostname, url.port) == ("clipper-postgres", 5432)
    assert unquote(url.username) == "clip per"
    assert unquote(url.password) == password
    assert unquote(url.path) == "/clipper_db"
    assert url.query == "sslmode=disable"


# --- helm test ------------------------------------------------------------------------------------


def test_helm_test_pod_expects_200_from_ready(default):
    pod = find(default, "Pod", f"{NAME}-test-ready")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    c = pod["spec"]["containers"][0]
    assert env_map(c)["URL"] == "http://clipper-backend.clipper.svc:8080/health/ready"
    assert "200" in c["command"][-1] and "wget" in c["command"][-1]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert not find_all(fast({"tests": {"enabled": False}}), "Pod")


# --- NOTES --------------------------------------------------------------------------------------


def notes(values: dict[str, Any]) -> str:
    """NOTES.txt as `helm install --dry-run` prints it (helm template does not render NOTES)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(values, f)
        f.flush()
        out = (
            Helm("helm4")
            .run(
                ["install", "clipper", str(chart_path(CHART)), "-n", "clipper", "--dry-run=client"]
                + ["-f", str(example(CHART, "minimal")), "-f", f.name]
            )
            .stdout
        )
    return out.split("NOTES:", 1)[1]


def test_notes_explain_access_secrets_and_rollback():
    text = notes({})
    assert "kubectl -n clipper port-forward svc/clipper-backend" in text
    assert "helm rollback clipper" in text
    assert "kubectl -n clipper rollout undo deployment/clipper-backend" in text
    assert "--rollback-on-failure (Helm 4) or --atomic (Helm 3)" in text
    assert re.search(r"WARNING: .*generated by the chart", text)
    text = notes(merge(FIXED, {}))
    assert "generated by the chart" not in text
    text = notes({"secrets": {"existingSecret": "mine"}})
    assert "From your Secret mine" in text


# --- generated keys are reused, never rotated (lookup against a stand-in API server) ---------------


def earlier_secret(cluster: FakeKube, data: dict[str, str], generated: str | None) -> None:
    """The backend's Secret as an earlier release left it; `generated` lists the keys it generated."""
    annotations = {} if generated is None else {"clpr.tv/generated-keys": generated}
    cluster.add_secret(NAME, data, annotations=annotations)


def upgrade_render(helm: str, values: dict[str, Any] | None = None) -> list[dict]:
    """What `helm upgrade` would apply: a render that can look up the cluster."""
    return render_with_lookup(CHART, values, helm=helm)


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_generated_keys_are_reused_on_upgrade(fake_kube_api: FakeKube, helm: str) -> None:
    earlier_secret(
        fake_kube_api,
        {"MFA_ENCRYPTION_KEY": "A" * 32, "JWT_PRIVATE_KEY": FAKE_PEM},
        "MFA_ENCRYPTION_KEY,JWT_PRIVATE_KEY",
    )
    first, second = upgrade_render(helm), upgrade_render(helm)
    assert secret_data(first) == {"MFA_ENCRYPTION_KEY": "A" * 32, "JWT_PRIVATE_KEY": FAKE_PEM}
    annotations = find(first, "Secret", NAME)["metadata"]["annotations"]
    assert set(annotations["clpr.tv/generated-keys"].split(",")) == {"MFA_ENCRYPTION_KEY", "JWT_PRIVATE_KEY"}
    # Same keys, same checksum: an upgrade without changes does not roll the pods.
    assert (
        deployment(first)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
        == deployment(second)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    )


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_a_lost_generated_key_fails_instead_of_rotating(fake_kube_api: FakeKube, helm: str) -> None:
    earlier_secret(fake_kube_api, {"JWT_PRIVATE_KEY": FAKE_PEM}, "MFA_ENCRYPTION_KEY,JWT_PRIVATE_KEY")
    with pytest.raises(HelmError) as err:
        upgrade_render(helm)
    message = err.value.stderr
    assert "generated MFA_ENCRYPTION_KEY, but that key is gone" in message
    assert "lock every MFA user out" in message
    assert "set secrets.values.MFA_ENCRYPTION_KEY explicitly" in message


@pytest.mark.parametrize("helm", LOOKUP_HELMS)
def test_keys_once_given_stay_when_removed_from_values(fake_kube_api: FakeKube, helm: str) -> None:
    # The MFA key came from values on an earlier install (not generated): it is kept, not regenerated.
    earlier_secret(fake_kube_api, {"MFA_ENCRYPTION_KEY": MFA_RAW}, "")
    docs = upgrade_render(helm, {"secrets": {"generate": False}, **SINGLE_REPLICA})
    assert secret_data(docs) == {"MFA_ENCRYPTION_KEY": MFA_RAW}
    assert "clpr.tv/generated-keys" not in find(docs, "Secret", NAME)["metadata"]["annotations"]
    # A key the Secret never had is generated (and recorded) when generation is on.
    docs = upgrade_render(helm, SINGLE_REPLICA)
    data = secret_data(docs)
    assert data["MFA_ENCRYPTION_KEY"] == MFA_RAW
    assert data["JWT_PRIVATE_KEY"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert find(docs, "Secret", NAME)["metadata"]["annotations"]["clpr.tv/generated-keys"] == "JWT_PRIVATE_KEY"
