"""Umbrella wiring that must hold whatever the values: every connection setting has one source of
truth (global.*), ports and Redis authentication agree, the backend rolls when a server password
changes, the migrations Job waits for the database, and the production example follows the release
name. Also the library/subchart fixes these rely on (PDB percentages, exports volume, Redis config)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from charttest import container, env_map, find, find_all, render, render_error

from helm_mgmt.helm import Helm

CHART = "clipper"
CHARTS = Path(__file__).resolve().parents[2] / "helm" / "charts"


def by_name_label(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["labels"].get("app.kubernetes.io/name") == name]
    assert len(matches) == 1, f"expected one {kind} of {name}, found {[d['metadata']['name'] for d in matches]}"
    return matches[0]


def backend_pod(docs: list[dict]) -> dict:
    return by_name_label(docs, "Deployment", "backend")["spec"]["template"]


def backend_env(docs: list[dict]) -> dict[str, Any]:
    return env_map(container(backend_pod(docs)["spec"], "backend"))


def backend_config(docs: list[dict]) -> dict[str, str]:
    return find(docs, "ConfigMap", "clipper-backend")["data"]


def secret_refs(pod_spec: dict) -> list[tuple[str, str]]:
    """(Secret name, key) of every secretKeyRef of every container of a pod."""
    refs = []
    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.append((ref["name"], ref["key"]))
    return refs


def egress_ports(policy: dict) -> set[int | str]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


# --- H2: one source of truth -------------------------------------------------------------------


def test_global_postgres_settings_reach_server_and_backend() -> None:
    docs = render(CHART, {"global": {"postgres": {"username": "app", "database": "appdb", "passwordKey": "pw"}}})
    pg = env_map(container(by_name_label(docs, "StatefulSet", "postgres")["spec"]["template"]["spec"], "postgres"))
    assert pg["POSTGRES_APP_USER"] == "app"
    assert pg["POSTGRES_DB"] == "appdb"
    config = backend_config(docs)
    assert (config["DB_USER"], config["DB_NAME"]) == ("app", "appdb")
    assert backend_env(docs)["DB_PASSWORD"] == {"secretKeyRef": {"name": "clipper-postgres", "key": "pw"}}
    assert "pw" in find(docs, "Secret", "clipper-postgres")["data"]


def test_changing_global_username_is_not_mistaken_for_a_postgres_auth_override() -> None:
    """postgres.auth.username keeps its chart default: only a different, explicit value is refused."""
    docs = render(CHART, {"global": {"postgres": {"username": "owner"}}, "postgres": {"auth": {"username": "owner"}}})
    assert backend_config(docs)["DB_USER"] == "owner"


def test_global_redis_existing_secret_reaches_server_and_backend() -> None:
    docs = render(CHART, {"global": {"redis": {"existingSecret": "vault-redis", "passwordKey": "pw"}}})
    assert backend_env(docs)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "vault-redis", "key": "pw"}}
    sts = by_name_label(docs, "StatefulSet", "redis")
    secret_volumes = [v["secret"]["secretName"] for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert secret_volumes == ["vault-redis"]
    assert not [s for s in find_all(docs, "Secret") if s["metadata"]["name"] == "clipper-redis"]


def test_every_backend_secret_ref_points_at_a_rendered_secret() -> None:
    docs = render(CHART)
    rendered = {(s["metadata"]["name"], key) for s in find_all(docs, "Secret") for key in s.get("data", {})}
    pod = backend_pod(docs)["spec"]
    for name, key in secret_refs(pod):
        if key == "JWT_PRIVATE_KEY":
            continue  # optional with one replica; generated with secrets.generate (default)
        assert (name, key) in rendered, f"secretKeyRef {name}/{key} has no rendered Secret"


# --- H1: renaming ------------------------------------------------------------------------------


def test_frontend_may_be_renamed_and_the_site_ingress_follows() -> None:
    docs = render(CHART, {"frontend": {"fullnameOverride": "web"}})
    ingress = find(docs, "Ingress")
    services = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert services == {"web", "clipper-backend"}
    assert find(docs, "Service", "web")


def test_release_name_renames_everything_consistently() -> None:
    docs = render(CHART, release="shop")
    config = find(docs, "ConfigMap", "shop-backend")["data"]
    assert (config["DB_HOST"], config["REDIS_HOST"]) == ("shop-postgres", "shop-redis")
    assert find(docs, "Service", "shop-postgres") and find(docs, "Service", "shop-redis")


# --- H3: ports and Redis authentication --------------------------------------------------------


def test_changed_service_ports_reach_the_backend_and_its_network_policy_targets_the_pod_ports() -> None:
    docs = render(
        CHART,
        {
            "postgres": {"service": {"port": 5433}},
            "redis": {"service": {"port": 6380}},
            "backend": {
                "database": {"port": 5433},
                "redis": {"port": 6380},
                "migrations": {"enabled": True, "source": {"configMap": "migrations"}},
            },
        },
    )
    assert find(docs, "Service", "clipper-postgres")["spec"]["ports"][0]["port"] == 5433
    assert find(docs, "Service", "clipper-redis")["spec"]["ports"][0]["port"] == 6380
    config = backend_config(docs)
    assert (config["DB_PORT"], config["REDIS_PORT"]) == ("5433", "6380")
    # A NetworkPolicy sees the destination pod's port (after the Service), which stays 5432 / 6379.
    assert {5432, 6379} <= egress_ports(find(docs, "NetworkPolicy", "clipper-backend"))
    assert 5432 in egress_ports(find(docs, "NetworkPolicy", "clipper-backend-migrations"))


def test_external_database_port_is_used_as_is_in_the_backend_network_policy() -> None:
    docs = render(
        CHART,
        {"postgres": {"enabled": False}, "backend": {"database": {"host": "db.example.internal", "port": 6432}}},
    )
    assert 6432 in egress_ports(find(docs, "NetworkPolicy", "clipper-backend"))


def test_redis_without_auth_gives_the_backend_no_redis_password() -> None:
    docs = render(
        CHART,
        {
            "redis": {"auth": {"enabled": False, "allowUnauthenticated": True}, "config": {"protectedMode": False}},
            "backend": {"redis": {"authEnabled": False}},
        },
    )
    assert "REDIS_PASSWORD" not in backend_env(docs)
    assert all(name != "clipper-redis" for name, _ in secret_refs(backend_pod(docs)["spec"]))
    assert not [s for s in find_all(docs, "Secret") if s["metadata"]["name"] == "clipper-redis"]


def test_redis_password_stays_second_in_the_backend_env() -> None:
    names = [e["name"] for e in container(backend_pod(render(CHART))["spec"], "backend")["env"]]
    assert names[:4] == ["DB_PASSWORD", "REDIS_PASSWORD", "MFA_ENCRYPTION_KEY", "JWT_PRIVATE_KEY"]


# --- M1: production example follows the release name ------------------------------------------


@pytest.mark.parametrize("release", ["clipper", "shop"])
def test_production_secrets_follow_the_release_name(release: str) -> None:
    docs = render(CHART, env="production", release=release)
    target = f"{release}-backend"
    external = find(docs, "ExternalSecret")
    assert external["spec"]["target"]["name"] == target
    refs = secret_refs(backend_pod(docs)["spec"])
    assert (target, "DB_PASSWORD") in refs and (target, "REDIS_PASSWORD") in refs
    for chart in ("postgres", "redis"):
        sts = by_name_label(docs, "StatefulSet", chart)
        volumes = [v["secret"]["secretName"] for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v]
        # The superuser's password is PostgreSQL's own, generated by the chart: no application reads it.
        expected = [target, f"{release}-postgres-superuser"] if chart == "postgres" else [target]
        assert volumes == expected, f"{chart} reads {volumes}"
    assert not [
        s for s in find_all(docs, "Secret") if s["metadata"]["name"] in (f"{release}-postgres", f"{release}-redis")
    ]


# --- M3: the backend rolls with the server passwords -------------------------------------------


def dependencies_checksum(values: dict[str, Any]) -> str:
    return backend_pod(render(CHART, values))["metadata"]["annotations"]["checksum/dependencies"]


def test_backend_rolls_when_a_server_password_changes() -> None:
    base = dependencies_checksum(
        {"global": {"postgres": {"password": "password-one"}, "redis": {"password": "password-one"}}}
    )
    assert base == dependencies_checksum(
        {"global": {"postgres": {"password": "password-one"}, "redis": {"password": "password-one"}}}
    )
    assert base != dependencies_checksum(
        {"global": {"postgres": {"password": "password-two"}, "redis": {"password": "password-one"}}}
    )
    assert base != dependencies_checksum(
        {"global": {"postgres": {"password": "password-one"}, "redis": {"password": "password-two"}}}
    )
    assert base != dependencies_checksum(
        {"global": {"postgres": {"existingSecret": "x"}, "redis": {"password": "password-one"}}}
    )


def test_global_passwords_land_in_the_server_secrets() -> None:
    docs = render(CHART, {"global": {"postgres": {"password": "pg-secret-1"}, "redis": {"password": "rd-secret"}}})
    pg = find(docs, "Secret", "clipper-postgres")["data"]["password"]
    rd = find(docs, "Secret", "clipper-redis")["data"]["redis-password"]
    assert base64.b64decode(pg).decode() == "pg-secret-1"
    assert base64.b64decode(rd).decode() == "rd-secret"


@pytest.mark.parametrize("chart", ["postgres", "redis"])
def test_server_password_without_generation_needs_a_given_password(chart: str) -> None:
    auth = {"generate": False, "password": "given-password"}
    if chart == "postgres":
        assert "set auth.superuser.password or an existing Secret" in render_error(chart, {"auth": auth})
        auth["superuser"] = {"password": "given-superuser-password"}
    docs = render(chart, {"auth": auth})
    assert find(docs, "Secret", f"clipper-{chart}")


# --- M5: connection budget ---------------------------------------------------------------------


@pytest.mark.parametrize("env", [None, "staging", "production", "local"])
def test_examples_satisfy_the_connection_budget(env: str | None) -> None:
    assert by_name_label(render(CHART, env=env), "StatefulSet", "postgres")


def test_connection_budget_boundary_is_accepted() -> None:
    # (10 HPA pods + 1 surge) x 25 + 10 + 3 = 288
    assert render(CHART, {"postgres": {"config": {"maxConnections": 288}}})


# --- M6: the published backend image ------------------------------------------------------------


def test_the_published_backend_image_is_refused_as_non_root_before_anything_is_applied() -> None:
    """It would end in CrashLoopBackOff (binary under /root): the umbrella refuses it at render time."""
    published = {"backend": {"image": {"repository": "ghcr.io/subculture-collective/clipper/backend"}}}
    message = render_error(CHART, published)
    assert "image.repository is ghcr.io/subculture-collective/clipper/backend" in message
    assert "images/backend/Containerfile" in message
    # Bare defaults too: the chart's default backend image is the published one.
    proc = Helm("helm4").run(["template", "clipper", str(CHARTS / CHART)], check=False)
    assert proc.returncode != 0 and "the published backend image" in proc.stderr


# --- M7: migrations wait for the database ------------------------------------------------------


def test_migrations_job_waits_for_the_database_first() -> None:
    docs = render(CHART, {"backend": {"migrations": {"enabled": True, "source": {"configMap": "migrations"}}}})
    job = find(docs, "Job", "clipper-backend-migrations")
    spec = job["spec"]["template"]["spec"]
    init = spec["initContainers"]
    assert init[0]["name"] == "wait-for-dependencies"
    assert env_map(init[0]) == {"DB_HOST": "clipper-postgres", "DB_PORT": "5432"}
    assert '"$DB_HOST:$DB_PORT"' in init[0]["command"][2] and "REDIS" not in init[0]["command"][2]
    sc = init[0]["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert init[0]["resources"]["limits"] and init[0]["resources"]["requests"]


def test_migrations_job_with_image_source_waits_then_copies() -> None:
    docs = render(
        "backend",
        {
            "migrations": {"enabled": True, "source": {"image": {"repository": "ghcr.io/x/m", "tag": "1"}}},
        },
    )
    init = find(docs, "Job", "clipper-backend-migrations")["spec"]["template"]["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["wait-for-dependencies", "copy-migrations"]


def test_deployment_still_waits_for_database_and_redis() -> None:
    init = container(backend_pod(render(CHART))["spec"], "wait-for-dependencies")
    assert env_map(init) == {
        "DB_HOST": "clipper-postgres",
        "DB_PORT": "5432",
        "REDIS_HOST": "clipper-redis",
        "REDIS_PORT": "6379",
    }


# --- M2, L2, L3, L4, L6, L7: accepted variants --------------------------------------------------


@pytest.mark.parametrize(
    "persistence, extra",
    [
        ({"enabled": True, "accessMode": "ReadWriteMany"}, {}),
        ({"enabled": True, "existingClaim": "exports"}, {}),
        (
            {"enabled": True},
            {"autoscaling": {"enabled": False}, "replicaCount": 1, "podDisruptionBudget": {"enabled": False}},
        ),
    ],
    ids=["rwx", "existing-claim", "single-replica"],
)
def test_exports_volume_accepted_when_it_can_attach(persistence: dict, extra: dict) -> None:
    docs = render("backend", {"exports": {"persistence": persistence}, **extra})
    volume = next(v for v in find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "exports")
    assert "persistentVolumeClaim" in volume


def test_frontend_string_tag_accepted() -> None:
    image = container(
        find(render("frontend", {"image": {"tag": "1.4"}}), "Deployment")["spec"]["template"]["spec"], "nginx"
    )["image"]
    assert image.endswith(":1.4")


def test_redis_extra_config_without_managed_directives_is_kept() -> None:
    conf = find(render("redis", {"config": {"extraConfig": "hz 20\nmaxmemory-samples 10"}}), "ConfigMap")["data"][
        "redis.conf"
    ]
    assert "hz 20" in conf and "maxmemory-samples 10" in conf


def test_backend_extra_env_with_own_names_is_kept() -> None:
    env = env_map(
        container(
            find(render("backend", {"extraEnv": [{"name": "TZ", "value": "UTC"}]}), "Deployment")["spec"]["template"][
                "spec"
            ],
            "backend",
        )
    )
    assert env["TZ"] == "UTC"


def test_plain_http_site_on_purpose() -> None:
    docs = render(CHART, {"ingress": {"tls": [], "allowPlainHTTP": True}})
    ingress = find(docs, "Ingress")
    assert "tls" not in ingress["spec"]
    assert not any(k.startswith("cert-manager.io/") for k in ingress["metadata"].get("annotations", {}))
    docs = render(CHART, {"ingress": {"tls": [], "certManager": {"enabled": False}}})
    assert "tls" not in find(docs, "Ingress")["spec"]


def test_percentage_pdb_below_100_accepted() -> None:
    pdb = find(render("backend", {"podDisruptionBudget": {"minAvailable": "50%"}}), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == "50%"
