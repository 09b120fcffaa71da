"""The site through the real ingress controller: Traefik serves the chart's Ingress (class nginx)
over HTTPS on the host's loopback, as a browser on this machine reaches it, and the chart's HTTPRoute
through a Traefik Gateway. Each response through the ingress is compared with what the backend and
the frontend Services answer themselves, so a path that reaches the wrong component fails."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import time
import uuid
from collections.abc import Iterator

import pytest
from loadpod import restricted_pod
from rbaccheck import assert_allowed_exactly
from siteclient import SITE, Answer, direct, local_ca, request, tls_context, tls_socket, wait_served
from stackenv import RELEASE, STACK_VALUES, psql

from helm_mgmt.localcluster import ingress

GATEWAY_SITE = "gateway.clipper.local"
FORGED = "203.0.113.9"
BACKEND_SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=backend"
# (path, the component that must answer it). /debug/* and look-alikes of backend paths belong to
# the frontend: nothing outside may reach the backend's metrics or pprof.
ROUTES = [
    ("/", "frontend"),
    ("/health.html", "frontend"),
    ("/clips/00000000-0000-0000-0000-000000000000", "frontend"),
    ("/apidocs", "frontend"),
    ("/debug/metrics", "frontend"),
    ("/debug/pprof/", "frontend"),
    ("/api/v1/categories", "backend"),
    ("/health/live", "backend"),
    ("/sitemap.xml", "backend"),
    ("/robots.txt", "backend"),
    ("/clips/streamer/nobody-e2e", "backend"),
    ("/clips/game/no-such-game", "backend"),
    ("/clips/best/week", "backend"),
]


@pytest.fixture(scope="module")
def https(kubectl, stack: str) -> ssl.SSLContext:
    """Trusts the local CA; the site's certificate is issued by cert-manager (test_certificates.py)."""
    context = tls_context(local_ca(kubectl))
    wait_served(context)
    return context


def cluster_ip(kubectl, namespace: str, service: str) -> str:
    return kubectl("get", "service", service, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout


@pytest.fixture(scope="module")
def services(kubectl, stack: str) -> dict[str, tuple[str, int]]:
    """Where each component answers directly: its Service's ClusterIP and port."""
    return {
        "backend": (cluster_ip(kubectl, stack, f"{RELEASE}-backend"), 8080),
        "frontend": (cluster_ip(kubectl, stack, f"{RELEASE}-frontend"), 80),
    }


def wait_routed(site: str, context: ssl.SSLContext | None, timeout: float = 60) -> None:
    """Until Traefik serves ``site`` (it picks up a new Ingress or HTTPRoute within seconds)."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        try:
            answer = request("/health/live", site, context)
        except (OSError, ssl.SSLError) as err:
            answer = err
        if isinstance(answer, Answer) and answer.status == 200:
            return
        time.sleep(1)
    pytest.fail(f"{site} not routed after {timeout:.0f}s: last answer {answer}")


def _served_by(answer: Answer) -> str:
    """The backend (gin, with the app's request-id middleware) stamps every answer with X-Request-Id;
    the frontend's nginx never does."""
    return "backend" if "x-request-id" in {name.lower() for name in answer.headers} else "frontend"


def assert_routes(services: dict[str, tuple[str, int]], site: str, context: ssl.SSLContext | None) -> None:
    """Each path is answered by its component, as that component answers it directly. Backend pages
    may differ between its pods (the sitemap is cached per pod), so for them status and type count;
    the frontend's static answers must be identical."""
    wrong = []
    for path, component in ROUTES:
        through = request(path, site, context)
        mine = direct(*services[component], path)
        same = (through.status, through.content_type) == (mine.status, mine.content_type)
        if component == "frontend":
            same = same and through.body == mine.body
        if _served_by(mine) != component or _served_by(through) != component or not same:
            wrong.append(
                f"{path}: through the ingress {through.status} from the {_served_by(through)} {through.body[:80]!r}; "
                f"the {component} says {mine.status} {mine.body[:80]!r}"
            )
    assert not wrong, "\n".join(wrong)


def test_the_ingress_class_is_served_by_traefik(kubectl, stack: str) -> None:
    ing = json.loads(kubectl("get", "ingress", RELEASE, "-n", stack, "-o", "json").stdout)
    assert ing["spec"]["ingressClassName"] == ingress.INGRESS_CLASS
    cls = json.loads(kubectl("get", "ingressclass", ingress.INGRESS_CLASS, "-o", "json").stdout)
    assert cls["spec"]["controller"] == ingress.INGRESS_CONTROLLER
    # Traefik publishes the address it is reached at in the Ingress status.
    deadline = time.monotonic() + 60
    while not ing.get("status", {}).get("loadBalancer", {}).get("ingress") and time.monotonic() < deadline:
        time.sleep(2)
        ing = json.loads(kubectl("get", "ingress", RELEASE, "-n", stack, "-o", "json").stdout)
    assert ing["status"]["loadBalancer"]["ingress"] == [{"ip": ingress.HOST_IP}]


def test_every_path_reaches_its_component_through_the_ingress(stack: str, services, https) -> None:
    wait_routed(SITE, https)
    assert_routes(services, SITE, https)


def test_an_unknown_host_is_not_served(stack: str) -> None:
    assert request("/api/v1/categories", "elsewhere.example").status == 404


def _websocket_handshake(path: str, token: str, origin: str, context: ssl.SSLContext) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: {SITE}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    with tls_socket(context) as sock:
        sock.sendall(handshake.encode())
        return sock.recv(4096)


def test_the_chat_websocket_upgrades_through_the_ingress(kubectl, stack: str, https) -> None:
    username = f"e2e_ws_{uuid.uuid4().hex[:8]}"
    channel = psql(
        kubectl,
        stack,
        "WITH u AS (INSERT INTO users (twitch_id, username, display_name, role) "
        f"VALUES ('{username}', '{username}', '{username}', 'user') RETURNING id) "
        "INSERT INTO chat_channels (name, creator_id) SELECT 'e2e', id FROM u RETURNING id",
    ).stdout.split()[0]
    body = json.dumps({"username": username})
    login = request("/api/v1/auth/test-login", SITE, https, {"Content-Type": "application/json"}, "POST", body)
    assert login.status == 200, login.body[:300]
    token = json.loads(login.body)["access_token"]
    path = f"/api/v1/chat/channels/{channel}/ws"
    # The app accepts a WebSocket only from the site's own origin, which the chart configures.
    answer = _websocket_handshake(path, token, f"https://{SITE}", https)
    assert answer.startswith(b"HTTP/1.1 101"), answer[:300]
    assert b"upgrade: websocket" in answer.lower()
    assert _websocket_handshake(path, token, "https://elsewhere.example", https).startswith(b"HTTP/1.1 403")


def test_the_affinity_cookie_pins_a_browser_to_one_backend_pod(kubectl, stack: str, https) -> None:
    """The chart's cookie annotations, as Traefik reads them: the watch-party hub lives in one pod."""
    first = request("/api/v1/categories", SITE, https)
    cookies = [cookie for cookie in first.cookies if cookie.startswith("clipper-route=")]
    assert len(cookies) == 1, first.cookies
    cookie = cookies[0]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert attributes["path"] == "Path=/" and attributes["samesite"] == "SameSite=Lax", cookie
    assert attributes["max-age"] == "Max-Age=86400", cookie
    marker = f"affinity-{uuid.uuid4().hex[:8]}"
    headers = {"Cookie": cookie.split(";")[0], "User-Agent": marker}
    for _ in range(8):
        assert request("/api/v1/categories", SITE, https, headers).status == 200
    pods = json.loads(kubectl("get", "pods", "-n", stack, "-l", BACKEND_SELECTOR, "-o", "json").stdout)["items"]
    assert len(pods) >= 2, "the stack runs at least two backend pods"
    served = {}
    for pod in pods:
        logs = kubectl("logs", "-n", stack, pod["metadata"]["name"], "-c", "backend", "--since=5m").stdout
        served[pod["metadata"]["name"]] = logs.count(marker)
    assert sorted(served.values())[-1] == 8 and sum(served.values()) == 8, served


def _traefik_pod_ip(kubectl) -> str:
    selector = f"app.kubernetes.io/name={ingress.NAME}"
    return kubectl(
        "get", "pods", "-n", ingress.NAMESPACE, "-l", selector, "-o", "jsonpath={.items[0].status.podIP}"
    ).stdout


def _client_ips_logged(kubectl, stack: str, marker: str) -> list[str]:
    """The client address the backend logged for requests whose User-Agent is ``marker``."""
    seen = []
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        logs = kubectl("logs", "-n", stack, "-l", BACKEND_SELECTOR, "-c", "backend", "--tail=-1", "--since=5m").stdout
        for line in logs.splitlines():
            if marker in line and line.startswith("{"):
                seen.append(json.loads(line).get("client_ip", ""))
        time.sleep(1)
    return seen


@pytest.fixture
def clients(kubectl, namespace: str, probe_image: str) -> Iterator[dict[str, str]]:
    """Two probe pods, each a user with an address of its own: name -> pod IP."""
    names = ["user-a", "user-b"]
    for name in names:
        kubectl(
            "apply",
            "-f",
            "-",
            stdin=restricted_pod(name, namespace, {"name": "probe", "image": probe_image, "args": ["idle"]}),
        )
    for name in names:
        kubectl("wait", "-n", namespace, f"pod/{name}", "--for=condition=Ready", "--timeout=120s")
    yield {
        name: kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.podIP}").stdout for name in names
    }


def test_the_backend_sees_each_user_s_own_address_not_a_forged_one(
    kubectl, stack: str, namespace: str, clients, https
) -> None:
    """The backend trusts X-Forwarded-For from any peer (its rate limits and audit logs use it), so
    the ingress must replace what a client sends with the address it saw."""
    traefik = _traefik_pod_ip(kubectl)
    for name, address in clients.items():
        marker = f"xff-{name}-{uuid.uuid4().hex[:8]}"
        kubectl(
            "exec",
            "-n",
            namespace,
            name,
            "--",
            "/probe",
            "get",
            f"https://{traefik}:{ingress.WEBSECURE_PORT}/api/v1/categories",
            f"Host: {SITE}",
            f"X-Forwarded-For: {FORGED}",
            f"X-Real-Ip: {FORGED}",
            f"User-Agent: {marker}",
        )
        assert _client_ips_logged(kubectl, stack, marker) == [address], (name, address)
    # From this host through the published port: whatever address Traefik saw, never the forged one.
    marker = f"xff-host-{uuid.uuid4().hex[:8]}"
    headers = {"X-Forwarded-For": FORGED, "User-Agent": marker}
    assert request("/api/v1/categories", SITE, https, headers).status == 200
    logged = _client_ips_logged(kubectl, stack, marker)
    assert len(logged) == 1 and logged[0] not in ("", FORGED), logged


@pytest.fixture
def gateway(kubectl) -> Iterator[str]:
    """A Traefik Gateway with a plain HTTP listener on the web entrypoint, routes from any namespace."""
    namespace = "gateway-system"
    kubectl("create", "namespace", namespace, check=False)
    gw = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "clipper-gateway", "namespace": namespace},
        "spec": {
            "gatewayClassName": ingress.GATEWAY_CLASS,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": ingress.WEB_PORT,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(gw))
    kubectl("wait", "-n", namespace, "gateway/clipper-gateway", "--for=condition=Programmed", "--timeout=60s")
    yield namespace
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_http_route_splits_the_site_the_same_way(helm, kubectl, stack: str, services, gateway: str) -> None:
    """The umbrella's HTTPRoute, rendered with the stack's values and applied beside its Ingress
    under a second host name, attached to a Traefik Gateway."""
    values = [arg for path in STACK_VALUES for arg in ("-f", str(path))]
    sets = [
        "ingress.enabled=false",
        "httpRoute.enabled=true",
        f"httpRoute.hostnames[0]={GATEWAY_SITE}",
        "httpRoute.parentRefs[0].name=clipper-gateway",
        f"httpRoute.parentRefs[0].namespace={gateway}",
        "httpRoute.parentRefs[0].sectionName=http",
    ]
    chart = str(STACK_VALUES[0].parents[1])
    set_args = [arg for value in sets for arg in ("--set", value)]
    command = ["template", RELEASE, chart, "-n", stack, *values, *set_args, "--show-only", "templates/httproute.yaml"]
    route = helm.run(command).stdout
    kubectl("apply", "-n", stack, "-f", "-", stdin=route)
    try:
        wait_routed(GATEWAY_SITE, None)
        status = json.loads(kubectl("get", "httproute", RELEASE, "-n", stack, "-o", "json").stdout)["status"]
        conditions = {c["type"]: c["status"] for c in status["parents"][0]["conditions"]}
        assert conditions.get("Accepted") == "True" and conditions.get("ResolvedRefs") == "True", status
        assert_routes(services, GATEWAY_SITE, None)
    finally:
        kubectl("delete", "httproute", RELEASE, "-n", stack, check=False)


def test_traefik_runs_with_its_own_least_privilege_identity(kubectl) -> None:
    sa = f"system:serviceaccount:{ingress.NAMESPACE}:{ingress.NAME}"
    allowed = {
        ("list", "ingresses"),
        ("watch", "endpointslices.discovery.k8s.io"),
        ("update", "ingresses/status"),
        ("list", "httproutes.gateway.networking.k8s.io"),
        ("get", "secrets"),
    }
    denied = {
        ("create", "pods"),
        ("delete", "ingresses"),
        ("create", "secrets"),
        ("update", "secrets"),
        ("get", "nodes/proxy"),
    }
    assert_allowed_exactly(kubectl, sa, allowed, denied)
    pod = json.loads(kubectl("get", "pods", "-n", ingress.NAMESPACE, "-o", "json").stdout)["items"][0]
    security = pod["spec"]["containers"][0]["securityContext"]
    assert security["runAsNonRoot"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"]
    # Published only on the host's loopback.
    published = {p["hostPort"]: p["hostIP"] for p in pod["spec"]["containers"][0]["ports"] if p.get("hostPort")}
    assert published == {ingress.WEB_HOST_PORT: ingress.HOST_IP, ingress.WEBSECURE_HOST_PORT: ingress.HOST_IP}


def test_nothing_outside_the_loopback_reaches_the_published_ports() -> None:
    """The hostPorts are bound to 127.0.0.1: the node's bridge address does not answer on them."""
    from helm_mgmt.localcluster import components

    with pytest.raises(OSError):
        socket.create_connection((components.NODE_IP, ingress.WEB_HOST_PORT), timeout=3).close()
