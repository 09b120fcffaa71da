"""Pebble, Let's Encrypt's ACME test server, as the local cluster's public ACME CA, and the
ClusterIssuer ``clipper-local-acme`` that orders certificates from it with HTTP-01 challenges
answered through the ingress controller (class ``nginx``).

Pebble validates a challenge the way a public CA does: it resolves the name on the cluster DNS
(``*.clipper.local`` leads to Traefik there, see ``dns.py``) and fetches
``http://<name>/.well-known/acme-challenge/<token>`` on port 80. Its ACME API is HTTPS, with a
certificate from the local CA issuer, so the ACME issuer trusts it through the local CA's
``ca.crt``. Pebble keeps everything in memory: each start makes a new root and forgets accounts,
so ``ensure`` registers the issuer afresh whenever the Pebble pod is not the one it registered with.
The pod needs no Kubernetes API access and gets no token.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from helm_mgmt.localcluster import addons, certmanager, kubeapi, process
from helm_mgmt.localcluster import components as c

NAMESPACE = "pebble"
NAME = "pebble"
IMAGE = f"clipper.local/pebble:{c.PEBBLE_VERSION}"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
TLS_SECRET = "pebble-tls"
ISSUER = "clipper-local-acme"
ACCOUNT_SECRET = "clipper-local-acme-account"
DIRECTORY = f"https://{NAME}.{NAMESPACE}.svc:{ACME_PORT}/dir"
# On the issuer: the uid of the Pebble pod its account was registered with.
REGISTERED_WITH = "clipper-kit.local/pebble-pod"
CONFIG_DIR, TLS_DIR = "/etc/pebble", "/etc/pebble/tls"
CM = certmanager.CM


def config() -> dict[str, Any]:
    return {
        "pebble": {
            "listenAddress": f"0.0.0.0:{ACME_PORT}",
            "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
            "certificate": f"{TLS_DIR}/tls.crt",
            "privateKey": f"{TLS_DIR}/tls.key",
            # Where the validation authority connects: the names' ports 80 and 443.
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "keyAlgorithm": "ecdsa",
            "retryAfter": {"authz": 3, "order": 5},
        }
    }


def serving_certificate() -> dict[str, Any]:
    """Pebble's HTTPS certificate for its Service, from the local CA issuer."""
    service = f"{NAME}.{NAMESPACE}.svc"
    return {
        "apiVersion": f"{CM}/v1",
        "kind": "Certificate",
        "metadata": {"name": TLS_SECRET, "namespace": NAMESPACE},
        "spec": {
            "secretName": TLS_SECRET,
            "dnsNames": [service, f"{service}.{c.CLUSTER_DOMAIN}"],
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"name": certmanager.CA_ISSUER, "kind": "ClusterIssuer", "group": CM},
        },
    }


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"pebble-config.json": json.dumps(config(), indent=2)},
    }


def deployment() -> dict[str, Any]:
    probe = {"httpGet": {"path": "/dir", "port": "acme", "scheme": "HTTPS"}, "periodSeconds": 5}
    container = {
        "image": IMAGE,
        "args": ["-config", f"{CONFIG_DIR}/pebble-config.json"],
        # No random sleeps before validating; no nonces rejected on purpose: a test CA, not a
        # chaos one. Validation itself stays on.
        "env": [{"name": "PEBBLE_VA_NOSLEEP", "value": "1"}, {"name": "PEBBLE_WFE_NONCEREJECT", "value": "0"}],
        "ports": [
            {"name": "acme", "containerPort": ACME_PORT, "protocol": "TCP"},
            {"name": "management", "containerPort": MANAGEMENT_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    mounts = {
        "config": (CONFIG_DIR, {"configMap": {"name": NAME}}),
        "tls": (TLS_DIR, {"secret": {"secretName": TLS_SECRET}}),
    }
    # In-memory state: a second pod would be a second CA.
    return addons.deployment(NAME, NAMESPACE, container, recreate=True, mounts=mounts, api_token=False)


def service() -> dict[str, Any]:
    return addons.service(NAME, NAMESPACE, {"acme": ACME_PORT, "management": MANAGEMENT_PORT})


def issuer(ca_bundle: bytes, pebble_pod: str) -> dict[str, Any]:
    """The ACME ClusterIssuer: Pebble's directory, trusted through the local CA, HTTP-01 through
    Ingresses of class nginx; marked with the Pebble pod it registers with."""
    return {
        "apiVersion": f"{CM}/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": ISSUER, "annotations": {REGISTERED_WITH: pebble_pod}},
        "spec": {
            "acme": {
                "server": DIRECTORY,
                "caBundle": base64.b64encode(ca_bundle).decode(),
                "email": "platform@clipper.local",
                "privateKeySecretRef": {"name": ACCOUNT_SECRET},
                "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
            }
        },
    }


def _certificate_ready() -> bool:
    found = kubeapi.get_or_empty(f"/apis/{CM}/v1/namespaces/{NAMESPACE}/certificates/{TLS_SECRET}")
    return kubeapi.condition_true(found, "Ready")


def _pebble_pod() -> str:
    pods = kubeapi.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app.kubernetes.io%2Fname%3D{NAME}"
    )
    ready = [
        p for p in pods["items"] if kubeapi.condition_true(p, "Ready") and not p["metadata"].get("deletionTimestamp")
    ]
    return ready[0]["metadata"]["uid"] if ready else ""


def _forget_account_of_another_pebble(pebble_pod: str, timeout: float) -> None:
    """A Pebble that restarted no longer knows the issuer's account: remove the issuer and its
    account key, so that cert-manager registers anew."""
    current = certmanager.issuer(ISSUER)
    if not current or current["metadata"].get("annotations", {}).get(REGISTERED_WITH) == pebble_pod:
        return
    kubeapi.request("DELETE", f"/apis/{CM}/v1/clusterissuers/{ISSUER}")
    try:
        kubeapi.request("DELETE", f"/api/v1/namespaces/{certmanager.NAMESPACE}/secrets/{ACCOUNT_SECRET}")
    except kubeapi.ApiError as err:
        if err.status != 404:
            raise
    addons.wait_until(lambda: not certmanager.issuer(ISSUER), timeout, f"ClusterIssuer {ISSUER} removed", lambda: "")


def ensure(timeout: float = 180) -> None:
    """Pebble with its certificate from the local CA, and the ACME issuer Ready (its account
    registered with Pebble). cert-manager and the local CA issuer must be Ready."""
    started = time.monotonic()
    objects = [
        *addons.identity(NAME, NAMESPACE, []),
        (f"/apis/{CM}/v1/namespaces/{NAMESPACE}/certificates", serving_certificate()),
        (f"/api/v1/namespaces/{NAMESPACE}/configmaps", config_map()),
        (f"/api/v1/namespaces/{NAMESPACE}/services", service()),
    ]
    addons.apply_all(objects)
    addons.wait_until(_certificate_ready, timeout, f"Certificate {NAMESPACE}/{TLS_SECRET} Ready", lambda: "not Ready")
    addons.apply_all([(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment())])
    addons.wait_ready(NAME, NAMESPACE, timeout)
    pebble_pod = _pebble_pod()
    _forget_account_of_another_pebble(pebble_pod, timeout)
    addons.apply_all([(f"/apis/{CM}/v1/clusterissuers", issuer(certmanager.ca_certificate(), pebble_pod))])
    addons.wait_until(
        lambda: kubeapi.condition_true(certmanager.issuer(ISSUER), "Ready"),
        timeout,
        f"ClusterIssuer {ISSUER} Ready",
        lambda: certmanager.issuer_conditions(ISSUER),
    )
    process.progress(f"Pebble and the ACME issuer ready after {time.monotonic() - started:.0f}s ({DIRECTORY})")
