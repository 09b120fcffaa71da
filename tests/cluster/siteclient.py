"""Requests to the site as a user on this machine makes them: to the ingress controller's published
loopback ports, with the site's name as the Host header and, over HTTPS, as the TLS server name,
verified against the local cluster's CA. No redirects followed, no retries."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from dataclasses import dataclass, field

from stackenv import SITE
from waiting import wait_until

from helm_mgmt.localcluster import certmanager, ingress
from helm_mgmt.localcluster.kubeapi import condition_true

__all__ = [
    "SITE",
    "Answer",
    "certificate",
    "direct",
    "local_ca",
    "request",
    "tls_context",
    "tls_socket",
    "wait_certificate_ready",
    "wait_served",
]


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


def local_ca(kubectl) -> bytes:
    """The local CA's certificate (PEM), as `helm-mgmt up` tells users to trust it."""
    data = kubectl(
        "get", "secret", certmanager.CA_SECRET, "-n", certmanager.NAMESPACE, "-o", "jsonpath={.data.ca\\.crt}"
    ).stdout
    return base64.b64decode(data)


def certificate(kubectl, namespace: str, name: str) -> dict:
    """The cert-manager Certificate, or an empty dict while there is none."""
    found = kubectl("get", "certificate", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else {}


def wait_certificate_ready(kubectl, namespace: str, name: str, timeout: float = 120) -> dict:
    """Until cert-manager reports the Certificate Ready; on timeout, what its issuance says."""

    def why() -> str:
        kinds = "certificates,certificaterequests,orders,challenges"
        return kubectl("describe", kinds, "-n", namespace, check=False).stdout[-4000:]

    def ready() -> bool:
        return condition_true(certificate(kubectl, namespace, name), "Ready")

    wait_until(ready, timeout, f"Certificate {namespace}/{name} Ready", 2, why)
    return certificate(kubectl, namespace, name)


def tls_context(ca_pem: bytes) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca_pem.decode())


def tls_socket(context: ssl.SSLContext, site: str = SITE, timeout: float = 15) -> ssl.SSLSocket:
    return ingress.tls_socket(context, site, timeout)


class _SiteHTTPS(http.client.HTTPSConnection):
    """HTTPS to the loopback port with ``site`` as the server name (SNI and certificate check)."""

    def __init__(self, site: str, context: ssl.SSLContext) -> None:
        super().__init__(site, ingress.WEBSECURE_HOST_PORT, timeout=15, context=context)
        self._site = site

    def connect(self) -> None:
        self.sock = tls_socket(self._context, self._site, self.timeout)


def connection(site: str = SITE, context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
    """HTTPS when ``context`` is given, else plain HTTP to the loopback port 80."""
    if context is not None:
        return _SiteHTTPS(site, context)
    return http.client.HTTPConnection(ingress.HOST_IP, ingress.WEB_HOST_PORT, timeout=15)


def request(
    path: str,
    site: str = SITE,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
) -> Answer:
    conn = connection(site, context)
    try:
        conn.request(method, path, body, headers={"Host": site, "User-Agent": "clipper-e2e", **(headers or {})})
        return _answer(conn.getresponse())
    finally:
        conn.close()


def _answer(resp: http.client.HTTPResponse) -> Answer:
    cookies = [value for name, value in resp.getheaders() if name.lower() == "set-cookie"]
    return Answer(resp.status, resp.getheader("Content-Type", ""), resp.read(), dict(resp.getheaders()), cookies)


def wait_served(context: ssl.SSLContext, site: str = SITE, timeout: float = 90) -> None:
    try:
        ingress.wait_served(context, site, timeout)
    except TimeoutError as err:
        raise AssertionError(str(err)) from err


def direct(host: str, port: int, path: str) -> Answer:
    """The same GET straight to a Service address, no ingress."""
    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        conn.request("GET", path, headers={"Host": SITE, "User-Agent": "clipper-e2e"})
        return _answer(conn.getresponse())
    finally:
        conn.close()
