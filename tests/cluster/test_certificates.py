"""The site's certificate from the real cert-manager: the chart's Ingress annotation makes it issue
one for the chart's host from the local CA issuer, Traefik serves it, plain HTTP is redirected to
HTTPS, and deleting the Secret makes cert-manager issue a new one that Traefik picks up."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time

import pytest
from rbaccheck import assert_allowed_exactly
from siteclient import SITE, local_ca, request, tls_context, tls_socket, wait_certificate_ready, wait_served
from stackenv import RELEASE

from helm_mgmt.localcluster import certmanager

SECRET = "clipper-tls"


def served_certificate(context: ssl.SSLContext) -> bytes:
    """The DER certificate Traefik presents for the site's name, verified against the local CA."""
    with tls_socket(context) as sock:
        return sock.getpeercert(binary_form=True)


def secret_certificate(kubectl, namespace: str) -> bytes:
    """The leaf certificate in the TLS Secret, as DER."""
    data = kubectl("get", "secret", SECRET, "-n", namespace, "-o", "jsonpath={.data.tls\\.crt}").stdout
    pem = base64.b64decode(data).decode()
    leaf = pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    return ssl.PEM_cert_to_DER_cert(leaf)


def describe(der: bytes) -> str:
    return subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-issuer", "-serial", "-ext", "subjectAltName"],
        input=der,
        capture_output=True,
        check=True,
    ).stdout.decode()


@pytest.fixture(scope="module")
def https(kubectl, stack: str) -> ssl.SSLContext:
    wait_certificate_ready(kubectl, stack, SECRET)
    context = tls_context(local_ca(kubectl))
    wait_served(context)
    return context


def test_the_ingress_certificate_is_issued_for_the_chart_host_by_the_local_ca(kubectl, stack, https) -> None:
    cert = wait_certificate_ready(kubectl, stack, SECRET)
    # Made by cert-manager's ingress-shim from the chart's annotation, not by hand.
    assert [ref["kind"] for ref in cert["metadata"]["ownerReferences"]] == ["Ingress"]
    assert cert["spec"]["dnsNames"] == [SITE]
    assert cert["spec"]["issuerRef"] == {
        "name": certmanager.CA_ISSUER,
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    served = served_certificate(https)  # raises unless it verifies against the CA for the site's name
    assert served == secret_certificate(kubectl, stack)
    text = describe(served)
    assert f"DNS:{SITE}" in text and "Clipper local CA" in text, text
    assert request("/api/v1/categories", SITE, https).status == 200


def test_plain_http_is_redirected_to_https(stack, https) -> None:
    for path in ("/", "/api/v1/categories?limit=1"):
        answer = request(path, SITE)
        assert answer.status in (301, 308), (path, answer.status)
        assert answer.headers["Location"] == f"https://{SITE}{path}", answer.headers


def test_a_deleted_secret_is_issued_again_and_served(kubectl, stack, https) -> None:
    before = served_certificate(https)
    kubectl("delete", "secret", SECRET, "-n", stack)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = kubectl("get", "secret", SECRET, "-n", stack, check=False)
        if found.returncode == 0 and secret_certificate(kubectl, stack) != before:
            break
        time.sleep(2)
    else:
        pytest.fail("cert-manager did not issue the deleted Secret again within 120 s")
    renewed = secret_certificate(kubectl, stack)
    # While the Secret was gone Traefik served its default certificate, which does not verify.
    deadline = time.monotonic() + 60
    served = None
    while served != renewed:
        assert time.monotonic() < deadline, "Traefik does not serve the new certificate after 60 s"
        time.sleep(1)
        try:
            served = served_certificate(https)
        except ssl.SSLError:
            served = None
    assert describe(renewed).split("serial=")[1] != describe(before).split("serial=")[1]
    wait_certificate_ready(kubectl, stack, SECRET)
    assert (
        json.loads(kubectl("get", "ingress", RELEASE, "-n", stack, "-o", "json").stdout)["spec"]["tls"][0]["secretName"]
        == SECRET
    )


def test_cert_manager_runs_with_its_own_identity(kubectl) -> None:
    sa = f"system:serviceaccount:{certmanager.NAMESPACE}:{certmanager.NAME}"
    allowed = {
        ("create", "certificates.cert-manager.io"),
        ("update", "certificaterequests.cert-manager.io/status"),
        ("create", "secrets"),
        ("create", "pods"),  # ACME HTTP-01 solver pods
        ("create", "ingresses.networking.k8s.io"),
    }
    denied = {("create", "clusterrolebindings"), ("delete", "namespaces"), ("list", "nodes"), ("create", "deployments")}
    assert_allowed_exactly(kubectl, sa, allowed, denied)
