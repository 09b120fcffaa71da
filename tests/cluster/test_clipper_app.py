"""The real Clipper on the charts (the umbrella with the local values): its schema migrated before
any pod serves, its API answering with real data, logins shared across pods, its metrics behind an
admin token, the frontend's real build; and the published image layout, which the chart refuses
as non-root and which runs only as root outside Pod Security `restricted`."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from loadpod import steady_load
from stackenv import RELEASE, SITE, backend_ready_url, psql, stack_spec

from helm_mgmt.charts import load_charts
from helm_mgmt.helm import HelmError
from helm_mgmt.localcluster import clipperapp, images
from helm_mgmt.release import ReleaseFailed, install

BACKEND = f"{RELEASE}-backend"
BACKEND_SELECTOR = (
    f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=backend,app.kubernetes.io/component=api"
)
PUBLISHED = images.IMAGES["backend-upstream-layout"]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def fetch(url: str, method: str = "GET", payload: dict | None = None, token: str | None = None) -> Response:
    """One request, no retries, no cookies (so the app's CSRF check, which needs its cookie, stays out)."""
    headers = {"Accept": "*/*"}
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def sql(kubectl, namespace: str, query: str) -> str:
    """psql in the PostgreSQL pod over TCP as the application's role, with the password the backend gets."""
    return psql(kubectl, namespace, query).stdout.strip()


def backend_pods(kubectl, namespace: str) -> list[dict]:
    out = kubectl("get", "pods", "-n", namespace, "-l", BACKEND_SELECTOR, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def create_user(kubectl, namespace: str, role: str = "user") -> str:
    username = f"e2e_{role}_{uuid.uuid4().hex[:8]}"
    # display_name too: the app reads it into a non-nullable field.
    sql(
        kubectl,
        namespace,
        "INSERT INTO users (twitch_id, username, display_name, role) "
        f"VALUES ('{username}', '{username}', '{username}', '{role}')",
    )
    return username


def login(base_url: str, username: str) -> str:
    resp = fetch(f"{base_url}/api/v1/auth/test-login", "POST", {"username": username})
    assert resp.status == 200, resp.body[:500]
    return resp.json()["access_token"]


@pytest.fixture(scope="module")
def api(stack, port_forward) -> Iterator[str]:
    """The backend Service, as the site's other components reach it."""
    with port_forward(stack, f"svc/{BACKEND}", 8080) as port:
        yield f"http://127.0.0.1:{port}"


def _started(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_backend_pods_run_the_real_clipper_after_their_migrations(stack, kubectl):
    """Every backend pod runs the image built from Clipper's source, is Ready through the real
    /health/ready, and started its app only after its `migrate` init container succeeded."""
    pods = backend_pods(kubectl, stack)
    assert len(pods) >= 2
    for pod in pods:
        name = pod["metadata"]["name"]
        spec = {c["name"]: c for c in pod["spec"]["containers"]}["backend"]
        assert spec["image"] == images.IMAGES["backend"], name
        assert spec["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        inits = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
        migrate = inits["migrate"]["state"]["terminated"]
        assert migrate["exitCode"] == 0, name
        app = {s["name"]: s for s in pod["status"]["containerStatuses"]}["backend"]
        assert app["ready"] is True, name
        assert _started(migrate["finishedAt"]) <= _started(app["state"]["running"]["startedAt"]), name


def test_ready_endpoint_checks_database_and_redis(api):
    resp = fetch(f"{api}/health/ready")
    assert resp.status == 200
    body = resp.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"


def test_schema_is_at_the_newest_migration_and_never_was_missing(stack, kubectl):
    newest = clipperapp.newest_migration()
    assert newest == 111  # the snapshot's highest migration (000111_add_one_per_creator_strategy)
    assert sql(kubectl, stack, "SELECT version || '|' || dirty FROM schema_migrations") == f"{newest}|false"
    # No backend pod ever ran against a schema that was not there yet.
    for pod in backend_pods(kubectl, stack):
        log = kubectl("logs", "-n", stack, pod["metadata"]["name"], "-c", "backend").stdout
        assert "does not exist" not in log, log[-2000:]


def test_public_endpoints_answer_with_real_data(api):
    categories = fetch(f"{api}/api/v1/categories")
    assert categories.status == 200
    assert categories.headers["content-type"].startswith("application/json")
    assert len(categories.json()["categories"]) >= 10  # seeded by migration 000035
    sitemap = fetch(f"{api}/sitemap.xml")
    assert sitemap.status == 200
    assert sitemap.headers["content-type"].startswith("application/xml")
    assert b"<urlset" in sitemap.body and f"https://{SITE}/".encode() in sitemap.body  # BASE_URL from global.host
    robots = fetch(f"{api}/robots.txt")
    assert robots.status == 200
    assert robots.headers["content-type"].startswith("text/plain")
    assert b"User-agent" in robots.body
    # Server-rendered from the image's templates/ (gin has no HTML renderer without them). The page body
    # itself is empty at this upstream commit: every template defines "content", the last parsed wins.
    page = fetch(f"{api}/clips/best/this-week")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    clips = fetch(f"{api}/api/v1/clips")
    assert clips.status == 200 and clips.headers["content-type"].startswith("application/json")


def test_login_on_one_pod_is_accepted_by_another(stack, kubectl, port_forward, api):
    """The pods share JWT_PRIVATE_KEY: a token from pod A writes through pod B, and the row
    comes back through the Service."""
    username = create_user(kubectl, stack)
    first, second = (p["metadata"]["name"] for p in backend_pods(kubectl, stack)[:2])
    with port_forward(stack, f"pod/{first}", 8080) as port_a:
        token = login(f"http://127.0.0.1:{port_a}", username)
    with port_forward(stack, f"pod/{second}", 8080) as port_b:
        me = fetch(f"http://127.0.0.1:{port_b}/api/v1/auth/me", token=token)
        assert me.status == 200, me.body[:500]
        assert username in me.body.decode()
        title = f"e2e playlist {uuid.uuid4().hex[:6]}"
        created = fetch(
            f"http://127.0.0.1:{port_b}/api/v1/playlists", "POST", {"title": title, "visibility": "public"}, token
        )
        assert created.status == 201, created.body[:500]
        playlist_id = created.json()["data"]["id"]
    read = fetch(f"{api}/api/v1/playlists/{playlist_id}")
    assert read.status == 200
    assert read.json()["data"]["title"] == title
    assert sql(kubectl, stack, f"SELECT title FROM playlists WHERE id = '{playlist_id}'") == title


def test_metrics_need_an_admin_token(stack, kubectl, api):
    """How the monitoring will scrape /debug/metrics: anonymous 401, a plain user 403, an admin 200."""
    assert fetch(f"{api}/debug/metrics").status == 401
    user_token = login(api, create_user(kubectl, stack))
    assert fetch(f"{api}/debug/metrics", token=user_token).status == 403
    admin_token = login(api, create_user(kubectl, stack, role="admin"))
    metrics = fetch(f"{api}/debug/metrics", token=admin_token)
    assert metrics.status == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert b"# TYPE go_goroutines gauge" in metrics.body


@pytest.fixture(scope="module")
def site(stack, port_forward) -> Iterator[str]:
    with port_forward(stack, f"svc/{RELEASE}-frontend", 80) as port:
        yield f"http://127.0.0.1:{port}"


def test_frontend_serves_the_real_build(site):
    index = fetch(f"{site}/")
    assert index.status == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "no-cache" in index.headers["cache-control"]
    html = index.body.decode()
    assert '<div id="root">' in html
    # Vite's build of the real SPA: hashed entry assets under /assets/, each served with its type
    # and cached for good.
    assets = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)))
    scripts = [a for a in assets if a.endswith(".js")]
    styles = [a for a in assets if a.endswith(".css")]
    assert scripts and styles, assets
    for path, kind in [(p, "javascript") for p in scripts] + [(p, "text/css") for p in styles]:
        asset = fetch(f"{site}{path}")
        assert asset.status == 200, path
        assert kind in asset.headers["content-type"], (path, asset.headers["content-type"])
        assert "immutable" in asset.headers["cache-control"], path
        assert len(asset.body) > 1000, path
    assert fetch(f"{site}/assets/not-in-this-build-0000.js").status == 404


def test_client_side_routes_fall_back_to_the_spa(site):
    index = fetch(f"{site}/").body
    for route in ("/playlists/abc", "/settings", "/clip/123"):
        resp = fetch(f"{site}{route}")
        assert resp.status == 200, route
        assert resp.body == index, route
        assert "no-cache" in resp.headers["cache-control"], route
    health = fetch(f"{site}/health.html")
    assert health.status == 200 and b"ok" in health.body


def test_published_image_cannot_start_as_non_root(stack, kubectl):
    """What the chart's refusal prevents: the published layout as uid 65532 never starts."""
    name = f"published-nonroot-{uuid.uuid4().hex[:6]}"
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": "api", "image": PUBLISHED, "imagePullPolicy": "Never", "securityContext": security}
            ],
        },
    }
    kubectl("apply", "-n", stack, "-f", "-", stdin=json.dumps(pod))
    try:
        deadline = time.monotonic() + 90
        message = ""
        while time.monotonic() < deadline and "permission denied" not in message:
            status = json.loads(kubectl("get", "pod", name, "-n", stack, "-o", "json").stdout)["status"]
            for c in status.get("containerStatuses", []):
                state = c["state"].get("terminated") or c["state"].get("waiting") or {}
                message = state.get("message", "")
            time.sleep(2)
        assert "permission denied" in message, message
    finally:
        kubectl("delete", "pod", name, "-n", stack, "--wait=false")


def test_chart_refuses_the_published_image_before_touching_the_cluster(helm, kubectl):
    namespace = f"published-refused-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        with pytest.raises(HelmError) as err:
            helm.run(["install", "clipper", str(load_charts()["clipper"].path), "-n", namespace, "--wait"], timeout=120)
        assert "image.repository is ghcr.io/subculture-collective/clipper/backend" in err.value.stderr
        assert "images/backend/Containerfile" in err.value.stderr
        assert helm.run(["list", "-n", namespace, "-q"]).stdout.strip() == ""
        objects = kubectl("get", "all,secrets,configmaps", "-n", namespace, "-o", "name").stdout.split()
        assert [o for o in objects if not o.startswith(("configmap/kube-root-ca.crt", "secret/sh.helm"))] == []
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")


def test_published_image_runs_as_root_outside_restricted(stack, helm, kubectl, tmp_path):
    """The documented way out for the published image: root, in a namespace that enforces only
    `baseline`, against the stack's PostgreSQL and Redis, which a policy of the operator's own
    opens to that namespace (the charts' policies admit only their release). The pod becomes Ready."""
    namespace = f"published-root-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")
    kubectl("apply", "-n", stack, "-f", "-", stdin=json.dumps(_admit_namespace_to_servers(namespace)))
    try:
        for secret in (f"{RELEASE}-postgres", f"{RELEASE}-redis"):
            obj = json.loads(kubectl("get", "secret", secret, "-n", stack, "-o", "json").stdout)
            copy = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret}, "data": obj["data"]}
            kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(copy))
        root = {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0}
        toolbox = {"repository": "clipper.local/toolbox", "tag": "local", "pullPolicy": "IfNotPresent"}
        values = {
            "host": "clipper.local",
            "podSecurityContext": {**root, "fsGroup": 0},
            "securityContext": root,
            "autoscaling": {"enabled": False},
            "replicaCount": 1,
            "podDisruptionBudget": {"enabled": False},
            "networkPolicy": {"enabled": False},
            "database": {
                "host": f"{RELEASE}-postgres.{stack}.svc.cluster.local",
                "existingSecret": f"{RELEASE}-postgres",
            },
            "redis": {"host": f"{RELEASE}-redis.{stack}.svc.cluster.local", "existingSecret": f"{RELEASE}-redis"},
            "tests": {"image": toolbox},
        }
        values_file = tmp_path / "published-root.json"
        values_file.write_text(json.dumps(values))
        chart = load_charts()["backend"].path
        helm.run(
            ["install", "published", str(chart), "-n", namespace, "-f", str(values_file), "--wait", "--timeout", "5m"],
            timeout=400,
        )
        out = kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=api", "-o", "json").stdout
        [pod] = json.loads(out)["items"]
        assert pod["spec"]["containers"][0]["image"] == PUBLISHED
        assert {c["name"]: c["ready"] for c in pod["status"]["containerStatuses"]}["backend"] is True
    finally:
        helm.run(["uninstall", "published", "-n", namespace], check=False)
        kubectl("delete", "networkpolicy", namespace, "-n", stack, "--ignore-not-found")
        kubectl("delete", "namespace", namespace, "--wait=false")


def _admit_namespace_to_servers(namespace: str) -> dict:
    """A NetworkPolicy (named like ``namespace``) that lets that namespace reach the stack's
    PostgreSQL and Redis; policies add up, so the charts' own stay as they are."""
    servers = {"key": "app.kubernetes.io/name", "operator": "In", "values": ["postgres", "redis"]}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}, "matchExpressions": [servers]},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}],
                    "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 6379, "protocol": "TCP"}],
                }
            ],
        },
    }


def test_a_failing_migration_stops_the_upgrade_and_the_pods_keep_serving(stack, helm, kubectl, api, tmp_path):
    """An upgrade whose migration fails (the snapshot's migrations plus a broken 000112) fails in
    its pre-upgrade Job with the database's error: helm-mgmt rolls it back and says why, no pod is
    replaced, and a steady load through the backend Service sees no failed request."""
    files = tmp_path / "migrations"
    shutil.copytree(clipperapp.migrations_dir(), files)
    (files / "000112_broken.up.sql").write_text("ALTER TABLE no_such_table ADD COLUMN broken integer;\n")
    (files / "000112_broken.down.sql").write_text("SELECT 1;\n")
    kubectl("create", "configmap", "broken-migrations", "-n", stack, f"--from-file={files}")
    history = json.loads(helm.run(["history", RELEASE, "-n", stack, "-o", "json"]).stdout)
    good = history[-1]["revision"]
    pods_before = sorted(p["metadata"]["name"] for p in backend_pods(kubectl, stack))
    broken = stack_spec(stack, "backend.migrations.source.configMap=broken-migrations", timeout="4m")
    # 10 requests/s: more would make the HPA add a pod, whose migrate init container fails on the
    # schema the broken migration left dirty, and the rollback would wait for that pod in vain.
    url = backend_ready_url(kubectl, stack)
    try:
        with steady_load(kubectl, stack, url, rate=10) as load, pytest.raises(ReleaseFailed) as err:
            install(helm, broken, upgrade=True, report=lambda _line: None)
        assert load["ok"] >= 300 and load["fail"] == 0, f"the running release stopped serving: {load}"
        message = str(err.value)
        assert f"rolled back to revision {good}" in message, message
        assert 'relation "no_such_table" does not exist' in message, message
        revisions = json.loads(helm.run(["history", RELEASE, "-n", stack, "-o", "json"]).stdout)
        assert revisions[-2]["status"] == "failed" and f"Rollback to {good}" in revisions[-1]["description"]
        # No pod was replaced (the HPA may have removed one that the load had added).
        assert {p["metadata"]["name"] for p in backend_pods(kubectl, stack)} <= set(pods_before)
        assert fetch(f"{api}/health/ready").status == 200
        assert fetch(f"{api}/api/v1/categories").status == 200
    finally:
        # golang-migrate marks the version it failed at dirty: put the schema back where it was.
        sql(kubectl, stack, f"UPDATE schema_migrations SET version = {clipperapp.newest_migration()}, dirty = false")
        kubectl("delete", "job", f"{BACKEND}-migrations", "-n", stack, "--ignore-not-found")
        kubectl("delete", "configmap", "broken-migrations", "-n", stack)
    version = sql(kubectl, stack, "SELECT version || '|' || dirty FROM schema_migrations")
    assert version == f"{clipperapp.newest_migration()}|false"
