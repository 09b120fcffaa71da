"""Traefik as the local cluster's ingress controller and Gateway API implementation.

One pod in namespace ``ingress-nginx`` (where the charts' NetworkPolicies admit the ingress
controller from), serving Ingresses of class ``nginx`` through Traefik's ingress-nginx provider and
Gateways of class ``traefik``, published on the host's loopback with hostPorts (80 and 443 on
127.0.0.1, through the portmap CNI plugin). Its ServiceAccount may only read what routing needs and
write the status of Ingresses and Gateway API objects. Inside the cluster, the Service ``traefik``
(ports 80 and 443) is where the site's names lead. The namespace is not Pod Security
``restricted``: hostPorts are not allowed there; the container itself is restricted-compliant.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import yaml

from helm_mgmt.localcluster import addons, process
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.rbac import READ

NAMESPACE = "ingress-nginx"
NAME = "traefik"
IMAGE = f"clipper.local/traefik:{c.TRAEFIK_VERSION}"
INGRESS_CLASS = "nginx"
INGRESS_CONTROLLER = "k8s.io/ingress-nginx"
GATEWAY_CLASS = "traefik"
GATEWAY_CONTROLLER = "traefik.io/gateway-controller"
HOST_IP = "127.0.0.1"
# Entrypoint (container) port and the host loopback port it is published on. Gateway listeners
# must name the entrypoint ports.
WEB_PORT, WEB_HOST_PORT = 8000, 80
WEBSECURE_PORT, WEBSECURE_HOST_PORT = 8443, 443
ADMIN_PORT = 8080  # /ping and /metrics, not published
GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_KINDS = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies"]
RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["services", "secrets", "configmaps", "namespaces"], "verbs": READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
    {"apiGroups": [GATEWAY_API], "resources": GATEWAY_KINDS, "verbs": READ},
    {"apiGroups": [GATEWAY_API], "resources": [f"{kind}/status" for kind in GATEWAY_KINDS], "verbs": ["update"]},
]


def args() -> list[str]:
    return [
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        f"--entryPoints.web.address=:{WEB_PORT}",
        "--entryPoints.web.asDefault=true",
        f"--entryPoints.websecure.address=:{WEBSECURE_PORT}",
        "--entryPoints.websecure.asDefault=true",
        "--entryPoints.websecure.http.tls=true",
        f"--entryPoints.traefik.address=:{ADMIN_PORT}",
        "--ping=true",
        "--metrics.prometheus=true",
        "--providers.kubernetesIngressNGINX=true",
        f"--providers.kubernetesIngressNGINX.ingressClass={INGRESS_CLASS}",
        f"--providers.kubernetesIngressNGINX.controllerClass={INGRESS_CONTROLLER}",
        f"--providers.kubernetesIngressNGINX.publishStatusAddress={HOST_IP}",
        "--providers.kubernetesGateway=true",
        "--accessLog=true",
        "--log.level=INFO",
        "--log.noColor=true",
    ]


def _container() -> dict[str, Any]:
    ports = [
        {"name": "web", "containerPort": WEB_PORT, "hostPort": WEB_HOST_PORT, "hostIP": HOST_IP},
        {"name": "websecure", "containerPort": WEBSECURE_PORT, "hostPort": WEBSECURE_HOST_PORT, "hostIP": HOST_IP},
        {"name": "admin", "containerPort": ADMIN_PORT},
    ]
    probe = {"httpGet": {"path": "/ping", "port": "admin"}, "periodSeconds": 5, "failureThreshold": 3}
    return {
        "image": IMAGE,
        "args": args(),
        "ports": [{**port, "protocol": "TCP"} for port in ports],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }


def deployment() -> dict[str, Any]:
    # Two pods cannot hold the same hostPort on one node: the old one goes first.
    return addons.deployment(NAME, NAMESPACE, _container(), recreate=True)


def objects() -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) of everything but the CRDs, in the order they are applied."""
    return [
        *addons.identity(NAME, NAMESPACE, RULES),
        (
            "/apis/networking.k8s.io/v1/ingressclasses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": INGRESS_CLASS},
                "spec": {"controller": INGRESS_CONTROLLER},
            },
        ),
        (
            f"/apis/{GATEWAY_API}/v1/gatewayclasses",
            {
                "apiVersion": f"{GATEWAY_API}/v1",
                "kind": "GatewayClass",
                "metadata": {"name": GATEWAY_CLASS},
                "spec": {"controllerName": GATEWAY_CONTROLLER},
            },
        ),
        (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment()),
        (f"/api/v1/namespaces/{NAMESPACE}/services", service()),
    ]


def service() -> dict[str, Any]:
    """Traefik inside the cluster, where the cluster DNS sends the site's names (``dns.py``): what
    pods that call the site by name reach, like the ACME CA that validates a challenge."""
    return addons.service(NAME, NAMESPACE, {"web": WEB_HOST_PORT, "websecure": WEBSECURE_HOST_PORT})


def gateway_crds() -> list[dict[str, Any]]:
    """The standard channel's CRDs of the Gateway API release, from its Go module."""
    from helm_mgmt.localcluster.build import module_dir

    folder = module_dir("sigs.k8s.io/gateway-api", c.GATEWAY_API_VERSION) / "config" / "crd" / "standard"
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]


def ensure(timeout: float = 180) -> None:
    """Apply the CRDs and objects and wait until Traefik is Ready. Its image must be in containerd."""
    started = time.monotonic()
    addons.apply_crds(gateway_crds(), "Gateway API")
    addons.apply_all(objects())
    addons.wait_ready(NAME, NAMESPACE, timeout)
    process.progress(f"Traefik ready after {time.monotonic() - started:.0f}s (http://{HOST_IP}:{WEB_HOST_PORT})")


def tls_socket(context: ssl.SSLContext, host: str, timeout: float = 15) -> ssl.SSLSocket:
    """A TLS connection to the published HTTPS port with ``host`` as the server name (SNI and the
    certificate check): how a browser on this machine reaches a site."""
    raw = socket.create_connection((HOST_IP, WEBSECURE_HOST_PORT), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def wait_served(context: ssl.SSLContext, host: str, timeout: float = 90) -> None:
    """Until Traefik presents a certificate for ``host`` that ``context`` trusts: a new or renewed
    Secret reaches it through its watch a moment after cert-manager writes it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            tls_socket(context, host, timeout=10).close()
            return
        except (OSError, ssl.SSLError) as err:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no trusted certificate for {host} after {timeout:.0f}s: {err}") from err
            time.sleep(1)
