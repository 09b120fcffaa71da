"""An ACME issuer, the way a site gets a public certificate: the frontend chart's own Ingress,
annotated for the local cluster's ACME ClusterIssuer, makes cert-manager order a certificate from
Pebble (Let's Encrypt's ACME server), which validates the HTTP-01 challenge by fetching it through
the ingress controller under the chart's host. Traefik then serves the issued certificate, and it
chains to the root this Pebble made."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import tempfile
import urllib.request
import uuid
from pathlib import Path

from siteclient import local_ca, request, tls_context, tls_socket, wait_certificate_ready, wait_served

from helm_mgmt.localcluster import components, pebble
from helm_mgmt.paths import CHARTS_DIR
from helm_mgmt.stack import restricted_namespace

VALUES = Path(__file__).with_name("values-acme-frontend.yaml")
RELEASE = "acme"
SECRET = "acme-tls"
PEM_END = "-----END CERTIFICATE-----"


def _pebble_root(port_forward, kubectl) -> str:
    """The root of this Pebble run, from its management API (HTTPS with the local CA's certificate)."""
    context = tls_context(local_ca(kubectl))
    context.check_hostname = False  # reached through a port-forward on 127.0.0.1
    with port_forward(pebble.NAMESPACE, f"svc/{pebble.NAME}", pebble.MANAGEMENT_PORT) as port:
        url = f"https://127.0.0.1:{port}/roots/0"
        return urllib.request.urlopen(url, context=context, timeout=15).read().decode()


def test_the_acme_issuer_validates_through_the_charts_ingress_and_its_certificate_is_served(
    helm, kubectl, namespace, port_forward, stack
) -> None:
    host = f"acme-{uuid.uuid4().hex[:6]}.{components.SITE_DOMAIN}"
    restricted_namespace(namespace)  # the solver pod cert-manager starts here must be admitted too
    chart = str(CHARTS_DIR / "frontend")
    hosts = ["--set", f"ingress.hosts[0].host={host}", "--set", f"ingress.tls[0].hosts[0]={host}"]
    helm.run(["install", RELEASE, chart, "-n", namespace, "-f", str(VALUES), *hosts, "--wait"], timeout=300)

    cert = wait_certificate_ready(kubectl, namespace, SECRET, timeout=240)
    assert [ref["kind"] for ref in cert["metadata"]["ownerReferences"]] == ["Ingress"]
    assert cert["spec"]["dnsNames"] == [host]
    assert cert["spec"]["issuerRef"]["name"] == pebble.ISSUER
    orders = json.loads(kubectl("get", "orders.acme.cert-manager.io", "-n", namespace, "-o", "json").stdout)["items"]
    assert [order["status"].get("state") for order in orders] == ["valid"], orders

    # Pebble fetched the token from the chart's host on port 80: through Traefik, not around it.
    log = kubectl("logs", "-n", pebble.NAMESPACE, f"deploy/{pebble.NAME}").stdout
    assert f"Attempting to validate w/ HTTP: http://{host}:80/.well-known/acme-challenge/" in log, log[-2000:]
    assert "set VALID by completed challenge" in log

    chain = base64.b64decode(
        kubectl("get", "secret", SECRET, "-n", namespace, "-o", "jsonpath={.data.tls\\.crt}").stdout
    ).decode()
    leaf, *intermediates = [part + PEM_END + "\n" for part in chain.split(PEM_END) if part.strip()]
    assert intermediates, "the Secret holds the leaf only, no chain"
    root = _pebble_root(port_forward, kubectl)
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp, name) for name in ("root.pem", "chain.pem", "leaf.pem")}
        for name, text in zip(files, (root, "".join(intermediates), leaf), strict=True):
            files[name].write_text(text)
        verify = ["openssl", "verify", "-CAfile", str(files["root.pem"]), "-untrusted", str(files["chain.pem"])]
        checked = subprocess.run([*verify, str(files["leaf.pem"])], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # A client that trusts this Pebble's root reaches the site over HTTPS under that name.
    trusting = tls_context(root.encode())
    wait_served(trusting, host)
    with tls_socket(trusting, host) as sock:
        assert sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(leaf)
    assert request("/", host, trusting).status == 200
    # The challenge's solver and its Ingress are gone once the order is valid.
    solvers = kubectl(
        "get", "pods,ingresses", "-n", namespace, "-l", "acme.cert-manager.io/http01-solver=true", "-o", "name"
    )
    assert not solvers.stdout.strip(), solvers.stdout
