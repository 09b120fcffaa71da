"""The umbrella chart: wiring between the subcharts (one source of truth for hosts and passwords),
the site's single Ingress / HTTPRoute with /debug kept private, and the example environments."""

from __future__ import annotations

from typing import Any

import pytest
from charttest import container, env_map, find, find_all, render

CHART = "clipper"
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob", "Pod")


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def workload(docs: list[dict], kind: str, component: str) -> dict:
    """The one workload of `kind` whose chart label is `component` (backend, postgres, ...)."""
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["labels"]["app.kubernetes.io/name"] == component]
    assert len(matches) == 1, f"expected one {kind} of {component}, found {len(matches)}"
    return matches[0]


def service_for(docs: list[dict], sts: dict) -> str:
    """Name of the ClusterIP (not headless) Service selecting the StatefulSet's pods."""
    labels = sts["spec"]["template"]["metadata"]["labels"]
    names = [
        s["metadata"]["name"]
        for s in find_all(docs, "Service")
        if s["spec"].get("clusterIP") != "None"
        and s["spec"].get("selector")
        and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
        and not any(p["name"].startswith("metrics") for p in s["spec"]["ports"])
    ]
    assert len(names) == 1, names
    return names[0]


def secret_file_source(spec: dict, c: dict, path: str) -> tuple[str, str]:
    """(Secret name, key) of the file at `path` in container `c` (a mounted Secret volume)."""
    for mount in c["volumeMounts"]:
        if path.startswith(mount["mountPath"].rstrip("/") + "/"):
            volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            filename = path[len(mount["mountPath"].rstrip("/")) + 1 :]
            secret = volume["secret"]
            for item in secret.get("items", []):
                if item["path"] == filename:
                    return secret["secretName"], item["key"]
            return secret["secretName"], filename
    raise AssertionError(f"{path} is not on a mounted volume of {c['name']}")


def postgres_password_source(docs: list[dict]) -> tuple[str, str]:
    sts = workload(docs, "StatefulSet", "postgres")
    spec = pod_spec(sts)
    pg = container(spec, "postgres")
    env = env_map(pg)
    if "POSTGRES_PASSWORD" in env:
        ref = env["POSTGRES_PASSWORD"]["secretKeyRef"]
        return ref["name"], ref["key"]
    return secret_file_source(spec, pg, env["POSTGRES_APP_PASSWORD_FILE"])


def redis_password_source(docs: list[dict]) -> tuple[str, str]:
    """The Secret the redis server takes `requirepass` from (env or mounted file)."""
    sts = workload(docs, "StatefulSet", "redis")
    spec = pod_spec(sts)
    redis = container(spec, "redis")
    for value in env_map(redis).values():
        if isinstance(value, dict) and "secretKeyRef" in value:
            return value["secretKeyRef"]["name"], value["secretKeyRef"]["key"]
    mounted = {m["name"] for m in redis["volumeMounts"]}
    secrets = [v["secret"] for v in spec["volumes"] if "secret" in v and v["name"] in mounted]
    assert len(secrets) == 1, secrets
    [item] = secrets[0]["items"]
    return secrets[0]["secretName"], item["key"]


def backend_env(docs: list[dict]) -> dict[str, Any]:
    """What the backend process sees: ConfigMaps loaded with envFrom, overridden by env entries."""
    c = container(pod_spec(workload(docs, "Deployment", "backend")), "backend")
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in find_all(docs, "ConfigMap")}
    settings: dict[str, Any] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            settings.update(configmaps[source["configMapRef"]["name"]])
    settings.update(env_map(c))
    return settings


@pytest.fixture(scope="module")
def default() -> list[dict]:
    return render(CHART)


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render(CHART, env="production", namespace="clipper-production")


@pytest.fixture(scope="module")
def staging() -> list[dict]:
    return render(CHART, env="staging", namespace="clipper-staging")


@pytest.fixture(scope="module")
def local() -> list[dict]:
    return render(CHART, env="local")


# --- wiring -------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["clipper", "shop", "postgres-prod", "redis-cache"])
def test_db_and_redis_hosts_are_the_rendered_services(release):
    docs = render(CHART, release=release)
    env = backend_env(docs)
    assert env["DB_HOST"] == service_for(docs, workload(docs, "StatefulSet", "postgres"))
    assert env["REDIS_HOST"] == service_for(docs, workload(docs, "StatefulSet", "redis"))
    wait = env_map(container(pod_spec(workload(docs, "Deployment", "backend")), "wait-for-dependencies"))
    assert (wait["DB_HOST"], wait["REDIS_HOST"]) == (env["DB_HOST"], env["REDIS_HOST"])


def test_release_names_containing_a_chart_name():
    docs = render(CHART, release="postgres-prod")
    assert backend_env(docs)["DB_HOST"] == "postgres-prod"
    assert backend_env(docs)["REDIS_HOST"] == "postgres-prod-redis"
    ing = find(docs, "Ingress")
    services = {p["backend"]["service"]["name"] for p in ing["spec"]["rules"][0]["http"]["paths"]}
    assert services == {"postgres-prod-backend", "postgres-prod-frontend"}
    assert {s["metadata"]["name"] for s in find_all(docs, "Service")} >= services


@pytest.mark.parametrize("env", [None, "staging", "production", "local"])
def test_passwords_come_from_the_secret_the_servers_use(env):
    docs = render(CHART, env=env)
    backend = backend_env(docs)
    db = backend["DB_PASSWORD"]["secretKeyRef"]
    redis = backend["REDIS_PASSWORD"]["secretKeyRef"]
    assert (db["name"], db["key"]) == postgres_password_source(docs)
    assert (redis["name"], redis["key"]) == redis_password_source(docs)


def test_user_and_database_come_from_global(default):
    settings = backend_env(default)
    pg = env_map(container(pod_spec(workload(default, "StatefulSet", "postgres")), "postgres"))
    assert (settings["DB_USER"], settings["DB_NAME"]) == (pg["POSTGRES_APP_USER"], pg["POSTGRES_DB"])
    assert (pg["POSTGRES_APP_USER"], pg["POSTGRES_DB"]) == ("clipper", "clipper_db")


def test_default_uses_the_chart_made_secrets(default):
    assert postgres_password_source(default) == ("clipper-postgres", "password")
    assert redis_password_source(default) == ("clipper-redis", "redis-password")
    names = {s["metadata"]["name"] for s in find_all(default, "Secret")}
    assert {"clipper-postgres", "clipper-redis"} <= names


def test_production_feeds_every_password_from_one_external_secret(production):
    es = find(production, "ExternalSecret")
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert es["spec"]["secretStoreRef"] == {"name": "vault-backend", "kind": "ClusterSecretStore"}
    target = es["spec"]["target"]["name"]
    keys = {d["secretKey"] for d in es["spec"]["data"]}
    assert {"DB_PASSWORD", "REDIS_PASSWORD", "MFA_ENCRYPTION_KEY", "JWT_PRIVATE_KEY"} <= keys
    assert postgres_password_source(production) == (target, "DB_PASSWORD")
    assert redis_password_source(production) == (target, "REDIS_PASSWORD")
    backend = backend_env(production)
    assert backend["DB_PASSWORD"]["secretKeyRef"] == {"name": target, "key": "DB_PASSWORD"}
    assert backend["REDIS_PASSWORD"]["secretKeyRef"] == {"name": target, "key": "REDIS_PASSWORD"}
    # no chart-made password Secret competes with the store; PostgreSQL's superuser has its own
    assert [s["metadata"]["name"] for s in find_all(production, "Secret")] == ["clipper-postgres-superuser"]


def referenced_objects(docs: list[dict]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        for c in all_containers(spec):
            for e in c.get("env", []):
                source = e.get("valueFrom", {})
                if "secretKeyRef" in source:
                    refs.add(("Secret", source["secretKeyRef"]["name"]))
                if "configMapKeyRef" in source:
                    refs.add(("ConfigMap", source["configMapKeyRef"]["name"]))
            for e in c.get("envFrom", []):
                if "secretRef" in e:
                    refs.add(("Secret", e["secretRef"]["name"]))
                if "configMapRef" in e:
                    refs.add(("ConfigMap", e["configMapRef"]["name"]))
        for v in spec.get("volumes", []):
            if "secret" in v:
                refs.add(("Secret", v["secret"]["secretName"]))
            if "configMap" in v:
                refs.add(("ConfigMap", v["configMap"]["name"]))
            for source in v.get("projected", {}).get("sources", []):
                for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                    if key in source:
                        refs.add((kind, source[key]["name"]))
        for secret in spec.get("imagePullSecrets", []):
            refs.add(("Secret", secret["name"]))
    return refs


# Secrets the user creates, as documented in the README (none in the example environments).
USER_PROVIDED: set[tuple[str, str]] = set()


@pytest.mark.parametrize("env", [None, "staging", "production", "local"])
def test_every_referenced_secret_and_configmap_exists(env):
    docs = render(CHART, env=env)
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in ("Secret", "ConfigMap")}
    rendered |= {("Secret", d["spec"]["target"]["name"]) for d in find_all(docs, "ExternalSecret")}
    missing = referenced_objects(docs) - rendered - USER_PROVIDED
    assert not missing, f"referenced but neither rendered nor documented as user-provided: {missing}"


@pytest.mark.parametrize("env", [None, "staging", "production", "local"])
def test_every_object_is_in_the_release_namespace(env):
    for doc in render(CHART, env=env, namespace="site"):
        assert doc["metadata"]["namespace"] == "site", f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("env", [None, "staging", "production", "local"])
def test_every_pod_is_hardened(env):
    for doc in render(CHART, env=env):
        if doc["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, name
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in all_containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert c["resources"]["requests"] and c["resources"]["limits"], (name, c["name"])
            assert not c["image"].endswith(":latest"), (name, c["name"])


# --- routing ------------------------------------------------------------------------------------


def ingress_route(ingress: dict, host: str, path: str) -> str | None:
    """The Service an Ingress sends `host` + `path` to, following the Ingress matching rules:
    Exact matches the whole path; Prefix matches element by element (so `/api` matches `/api` and
    `/api/x`, not `/apix`); the longest match wins and Exact beats Prefix of the same length."""
    best: tuple[int, int, str] | None = None
    request = [e for e in path.split("/") if e]
    for rule in ingress["spec"]["rules"]:
        if rule.get("host") not in (None, host):
            continue
        for p in rule["http"]["paths"]:
            rule_path, kind = p["path"], p["pathType"]
            service = p["backend"]["service"]["name"]
            if kind == "Exact":
                matched = path == rule_path
            elif kind == "Prefix":
                elements = [e for e in rule_path.split("/") if e]
                matched = request[: len(elements)] == elements
            else:
                raise AssertionError(f"pathType {kind} is implementation-specific: cannot reason about {rule_path}")
            if matched:
                rank = (len(rule_path.rstrip("/")), 1 if kind == "Exact" else 0, service)
                if best is None or rank[:2] > best[:2]:
                    best = rank
    return best[2] if best else None


BACKEND_PATHS = [
    "/api/v1/clips",
    "/api/v1/chat/channels/x/ws",
    "/api/v1/watch-parties/abc/ws",
    "/health",
    "/health/live",
    "/health/ready",
    "/sitemap.xml",
    "/robots.txt",
    "/clips/streamer/foo",
    "/clips/game/bar",
    "/clips/best/week",
]
FRONTEND_PATHS = [
    "/",
    "/health.html",
    "/index.html",
    "/assets/app.js",
    "/clips",
    "/clips/123",
    "/apidocs",
    "/robots.txt.bak",
    "/debug",
    "/debug/metrics",
    "/debug/pprof/",
    "/debug/pprof/heap",
]


@pytest.mark.parametrize("path", BACKEND_PATHS)
def test_backend_paths_reach_the_backend(default, path):
    assert ingress_route(find(default, "Ingress"), "clpr.tv", path) == "clipper-backend"


@pytest.mark.parametrize("path", FRONTEND_PATHS)
def test_other_paths_reach_the_frontend(default, path):
    assert ingress_route(find(default, "Ingress"), "clpr.tv", path) == "clipper-frontend"


@pytest.mark.parametrize("env", [None, "staging", "production"])
@pytest.mark.parametrize(
    "path", ["/debug", "/debug/metrics", "/debug/pprof/", "/debug/pprof/goroutine", "//debug/metrics"]
)
def test_debug_never_reaches_the_backend(env, path):
    docs = render(CHART, env=env)
    ingress = find(docs, "Ingress")
    for rule in ingress["spec"]["rules"]:
        assert ingress_route(ingress, rule["host"], path) != "clipper-backend"
        for p in rule["http"]["paths"]:
            if p["backend"]["service"]["name"] == "clipper-backend":
                assert not p["path"].startswith("/debug") and p["path"] != "/"


def test_the_matcher_itself_can_fail():
    fake = {
        "spec": {
            "rules": [
                {
                    "host": "clpr.tv",
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "backend"}}},
                            {"path": "/health.html", "pathType": "Exact", "backend": {"service": {"name": "web"}}},
                        ]
                    },
                }
            ]
        }
    }
    assert ingress_route(fake, "clpr.tv", "/debug/metrics") == "backend"
    assert ingress_route(fake, "clpr.tv", "/health.html") == "web"
    assert ingress_route(fake, "other.host", "/") is None


def test_ingress_ports_tls_and_websocket_settings(default):
    ing = find(default, "Ingress")
    assert ing["metadata"]["name"] == "clipper"
    assert ing["spec"]["ingressClassName"] == "nginx"
    for p in ing["spec"]["rules"][0]["http"]["paths"]:
        assert p["backend"]["service"]["port"] == {"name": "http"}
    exact = {p["path"] for p in ing["spec"]["rules"][0]["http"]["paths"] if p["pathType"] == "Exact"}
    assert exact == {"/sitemap.xml", "/robots.txt"}
    assert ing["spec"]["tls"] == [{"secretName": "clipper-tls", "hosts": ["clpr.tv"]}]
    annotations = ing["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert not [d for d in default if d["kind"] == "Ingress" and d["metadata"]["name"] != "clipper"]


@pytest.mark.parametrize(
    ("env", "host", "issuer"),
    [("production", "clpr.tv", "letsencrypt-prod"), ("staging", "staging.clpr.tv", "letsencrypt-staging")],
)
def test_one_ingress_per_environment(env, host, issuer):
    docs = render(CHART, env=env)
    [ing] = find_all(docs, "Ingress")
    assert [r["host"] for r in ing["spec"]["rules"]] == [host]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer
    [tls] = ing["spec"]["tls"]
    assert tls["hosts"] == [host] and tls["secretName"]
    assert ingress_route(ing, host, "/api/v1/chat/channels/x/ws") == "clipper-backend"
    assert ingress_route(ing, host, "/health.html") == "clipper-frontend"


def test_namespaced_issuer_and_several_hosts():
    docs = render(
        CHART,
        {"ingress": {"hosts": ["clpr.tv", "www.clpr.tv"], "certManager": {"issuerKind": "Issuer", "issuer": "le"}}},
    )
    ing = find(docs, "Ingress")
    assert ing["metadata"]["annotations"]["cert-manager.io/issuer"] == "le"
    assert "cert-manager.io/cluster-issuer" not in ing["metadata"]["annotations"]
    assert [r["host"] for r in ing["spec"]["rules"]] == ["clpr.tv", "www.clpr.tv"]
    assert ing["spec"]["tls"][0]["hosts"] == ["clpr.tv", "www.clpr.tv"]


def test_plain_http_without_tls_has_no_issuer():
    ing = find(render(CHART, {"ingress": {"tls": [], "allowPlainHTTP": True}}), "Ingress")
    assert "tls" not in ing["spec"]
    assert "cert-manager.io/cluster-issuer" not in ing["metadata"]["annotations"]


def test_httproute_alternative():
    docs = render(CHART, {"ingress": {"enabled": False}, "httpRoute": {"enabled": True}})
    assert not find_all(docs, "Ingress")
    route = find(docs, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["hostnames"] == ["clpr.tv"]
    assert route["spec"]["parentRefs"] == [
        {"name": "clipper-gateway", "namespace": "gateway-system", "sectionName": "https"}
    ]
    backend_rule, frontend_rule = route["spec"]["rules"]
    assert backend_rule["backendRefs"] == [{"name": "clipper-backend", "port": 8080}]
    matches = {(m["path"]["type"], m["path"]["value"]) for m in backend_rule["matches"]}
    assert ("PathPrefix", "/api") in matches and ("Exact", "/sitemap.xml") in matches
    assert not any(value.startswith("/debug") or value == "/" for _, value in matches)
    assert frontend_rule == {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": "clipper-frontend", "port": 80}],
    }


def test_httproute_with_ingress_only_when_allowed():
    docs = render(
        CHART, {"httpRoute": {"enabled": True, "allowWithIngress": True, "backendTimeouts": {"request": "0s"}}}
    )
    assert find(docs, "Ingress") and find(docs, "HTTPRoute")
    assert find(docs, "HTTPRoute")["spec"]["rules"][0]["timeouts"] == {"request": "0s"}


def test_subchart_ingresses_are_off_in_the_umbrella(default):
    assert [i["metadata"]["name"] for i in find_all(default, "Ingress")] == ["clipper"]


def test_subchart_ingress_for_another_host_is_allowed():
    docs = render(
        CHART,
        {
            "frontend": {
                "ingress": {
                    "enabled": True,
                    "hosts": [{"host": "www.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                }
            }
        },
    )
    assert sorted(i["metadata"]["name"] for i in find_all(docs, "Ingress")) == ["clipper", "clipper-frontend"]


# --- subchart defaults and conditions -------------------------------------------------------------


def test_migrations_run_in_the_backend_pods_and_before_upgrades_in_the_umbrella():
    """The bundled database does not exist before the first install: the backend pods' init
    containers migrate it (after waiting for it); the hook Job only runs before upgrades."""
    docs = render(CHART, {"backend": {"migrations": {"enabled": True, "source": {"configMap": "clipper-migrations"}}}})
    [job] = find_all(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    backend = workload(docs, "Deployment", "backend")
    assert [c["name"] for c in pod_spec(backend)["initContainers"]] == ["wait-for-dependencies", "migrate"]


@pytest.mark.parametrize("chart", ["backend", "frontend", "postgres", "redis"])
def test_condition_disables_a_subchart(chart):
    values: dict[str, Any] = {chart: {"enabled": False}}
    if chart == "postgres":
        values["backend"] = {"database": {"host": "db.example.internal"}}
    if chart == "redis":
        values["backend"] = {"redis": {"host": "cache.example.internal"}}
    if chart in ("backend", "frontend"):
        values["ingress"] = {"enabled": False}
    docs = render(CHART, values)
    names = {d["metadata"]["labels"].get("app.kubernetes.io/name") for d in docs}
    assert chart not in names
    assert {"backend", "frontend", "postgres", "redis"} - {chart} <= names


def test_external_servers_are_used_when_bundled_ones_are_off():
    docs = render(
        CHART,
        {
            "postgres": {"enabled": False},
            "redis": {"enabled": False},
            "global": {"postgres": {"existingSecret": "db-creds"}, "redis": {"existingSecret": "cache-creds"}},
            "backend": {"database": {"host": "db.example.internal"}, "redis": {"host": "cache.example.internal"}},
        },
    )
    env = backend_env(docs)
    assert env["DB_HOST"] == "db.example.internal"
    assert env["REDIS_HOST"] == "cache.example.internal"
    assert env["DB_PASSWORD"]["secretKeyRef"]["name"] == "db-creds"
    assert env["REDIS_PASSWORD"]["secretKeyRef"]["name"] == "cache-creds"
    assert not [d for d in find_all(docs, "StatefulSet")]


# --- environments -------------------------------------------------------------------------------


def test_production_figures(production):
    backend = workload(production, "Deployment", "backend")
    assert container(pod_spec(backend), "backend")["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "1Gi"},
    }
    frontend = workload(production, "Deployment", "frontend")
    assert container(pod_spec(frontend), "nginx")["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "300m", "memory": "512Mi"},
    }
    hpas = {h["metadata"]["name"]: h["spec"] for h in find_all(production, "HorizontalPodAutoscaler")}
    assert (hpas["clipper-backend"]["minReplicas"], hpas["clipper-backend"]["maxReplicas"]) == (3, 20)
    assert (hpas["clipper-frontend"]["minReplicas"], hpas["clipper-frontend"]["maxReplicas"]) == (2, 10)
    assert "replicas" not in backend["spec"] and "replicas" not in frontend["spec"]
    pg = workload(production, "StatefulSet", "postgres")
    assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    conf = next(c for c in find_all(production, "ConfigMap") if c["metadata"]["name"] == "clipper-postgres-config")
    max_connections = int(
        next(line for line in conf["data"]["postgresql.conf"].splitlines() if line.startswith("max_connections")).split(
            "="
        )[1]
    )
    assert max_connections >= 20 * 25 + 10
    redis = workload(production, "StatefulSet", "redis")
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert backend_env(production)["CORS_ALLOWED_ORIGINS"] == "https://clpr.tv"


def test_staging_is_smaller(staging, production):
    def requests(docs: list[dict], chart: str, name: str) -> str:
        return container(pod_spec(workload(docs, "Deployment", chart)), name)["resources"]["requests"]["memory"]

    assert requests(staging, "backend", "backend") == "256Mi"
    assert requests(staging, "frontend", "nginx") == "64Mi"
    hpas = {h["metadata"]["name"]: h["spec"]["maxReplicas"] for h in find_all(staging, "HorizontalPodAutoscaler")}
    assert hpas == {"clipper-backend": 4, "clipper-frontend": 4}
    assert backend_env(staging)["CORS_ALLOWED_ORIGINS"] == "https://staging.clpr.tv"


def test_local_cluster_values(local):
    # The site through the local cluster's Traefik, with a certificate from its local CA issuer.
    ing = find(local, "Ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["rules"][0]["host"] == "clipper.local"
    assert ing["spec"]["tls"] == [{"secretName": "clipper-tls", "hosts": ["clipper.local"]}]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "clipper-local-ca"
    images = {c["image"] for d in local if d["kind"] in WORKLOADS for c in all_containers(pod_spec(d))}
    assert images == {
        "clipper.local/backend:local",
        "clipper.local/migrations:local",
        "clipper.local/frontend:local",
        "clipper.local/postgres:17-pgvector",
        "clipper.local/redis:7",
        "clipper.local/toolbox:local",
    }
    backend = workload(local, "Deployment", "backend")
    # Not release mode and not "production": the app serves the test-login route the cluster tests use.
    config_map = next(d for d in local if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "clipper-backend")
    assert (config_map["data"]["GIN_MODE"], config_map["data"]["ENVIRONMENT"]) == ("test", "local")
    assert [c["name"] for c in pod_spec(backend)["initContainers"]] == ["wait-for-dependencies", "migrate"]
    for d in local:
        if d["kind"] in WORKLOADS:
            for c in all_containers(pod_spec(d)):
                assert c["imagePullPolicy"] in ("IfNotPresent", "Never"), c["name"]
    frontend = workload(local, "Deployment", "frontend")
    nginx = container(pod_spec(frontend), "nginx")
    assert env_map(nginx)["NGINX_PORT"] == "80"
    assert nginx["ports"][0]["containerPort"] == 80
    for sts in find_all(local, "StatefulSet"):
        assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "standard"
    hpas = {h["metadata"]["name"]: h["spec"]["minReplicas"] for h in find_all(local, "HorizontalPodAutoscaler")}
    assert hpas == {"clipper-backend": 2, "clipper-frontend": 2}
    backend_secret = next(s for s in find_all(local, "Secret") if s["metadata"]["name"] == "clipper-backend")
    assert "MFA_ENCRYPTION_KEY" in (backend_secret.get("data") or backend_secret.get("stringData"))


def test_global_registry_reaches_every_subchart():
    docs = render(CHART, {"global": {"imageRegistry": "mirror.example.com"}})
    for d in docs:
        if d["kind"] in WORKLOADS:
            for c in all_containers(pod_spec(d)):
                assert c["image"].startswith("mirror.example.com/"), c["image"]


def test_global_pull_secrets_reach_every_pod():
    docs = render(CHART, {"global": {"imagePullSecrets": ["regcred"]}})
    for d in docs:
        if d["kind"] in WORKLOADS:
            assert {"name": "regcred"} in pod_spec(d).get("imagePullSecrets", []), d["metadata"]["name"]
