"""cert-manager in the local cluster: its controller (our main over the library, see
``platformbuild``) in namespace ``cert-manager``, the CA, self-signed and ACME issuers, the Ingress
shim that turns the charts' ``cert-manager.io/cluster-issuer`` annotation into Certificates, and the
ACME HTTP-01 solver image. Its CRDs (``deploy/crds`` of the module) need no conversion webhook, so
neither the webhook nor the CA injector runs: nothing validates Certificates on admission here.

The site's issuer is a local CA: a self-signed ClusterIssuer signs the CA certificate (Secret
``clipper-local-ca`` in namespace ``cert-manager``), and the ClusterIssuer ``clipper-local-ca``
issues from it. Trust that CA's ``ca.crt`` to open ``https://clipper.local`` without a warning.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import yaml

from helm_mgmt.localcluster import addons, kubeapi, process
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.rbac import READ

NAMESPACE = "cert-manager"
NAME = "cert-manager"
IMAGE = f"clipper.local/cert-manager-controller:{c.CERT_MANAGER_VERSION}"
SOLVER_IMAGE = f"clipper.local/cert-manager-acmesolver:{c.CERT_MANAGER_VERSION}"
METRICS_PORT = 9402
HEALTH_PORT = 9403
SELF_SIGNED_ISSUER = "clipper-local-selfsigned"
CA_ISSUER = "clipper-local-ca"
CA_SECRET = "clipper-local-ca"
CM = "cert-manager.io"
ACME = "acme.cert-manager.io"
RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [CM],
        "resources": ["issuers", "clusterissuers", "certificates", "certificaterequests"],
        "verbs": [*READ, "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": [CM],
        "resources": [
            f"{kind}/{sub}"
            for kind in ("issuers", "clusterissuers", "certificates", "certificaterequests")
            for sub in ("status", "finalizers")
        ],
        "verbs": ["update", "patch"],
    },
    # The approver approves requests for our issuers (there is no other approver here).
    {
        "apiGroups": [CM],
        "resources": ["signers"],
        "resourceNames": ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"],
        "verbs": ["approve"],
    },
    {
        "apiGroups": [ACME],
        "resources": ["orders", "challenges"],
        "verbs": [*READ, "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": [ACME],
        "resources": [f"{kind}/{sub}" for kind in ("orders", "challenges") for sub in ("status", "finalizers")],
        "verbs": ["update", "patch"],
    },
    # HTTP-01: a solver pod, Service and Ingress per challenge.
    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": [*READ, "create", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": [*READ, "create", "update", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/finalizers"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": [*READ, "create", "update", "patch", "delete"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
]


def args() -> list[str]:
    return [
        f"--cluster-resource-namespace={NAMESPACE}",
        f"--acme-http01-solver-image={SOLVER_IMAGE}",
        f"--metrics-listen-address=0.0.0.0:{METRICS_PORT}",
        f"--internal-healthz-listen-address=0.0.0.0:{HEALTH_PORT}",
        "--concurrent-workers=2",
    ]


def deployment() -> dict[str, Any]:
    container = {
        "image": IMAGE,
        "args": args(),
        "ports": [
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/livez", "port": "health"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/livez", "port": "health"}, "periodSeconds": 10, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }
    # Our main has no leader election: one pod, and the old one stops before the new one starts.
    return addons.deployment(NAME, NAMESPACE, container, recreate=True)


def crds() -> list[dict[str, Any]]:
    from helm_mgmt.localcluster.build import module_dir
    from helm_mgmt.localcluster.platformbuild import CERT_MANAGER_MODULE

    folder = module_dir(CERT_MANAGER_MODULE, c.CERT_MANAGER_VERSION) / "deploy" / "crds"
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]


def issuers() -> list[tuple[str, dict[str, Any]]]:
    """The self-signed issuer, the local CA's certificate and the CA issuer the site uses."""
    api = f"{CM}/v1"
    return [
        (
            f"/apis/{api}/clusterissuers",
            {
                "apiVersion": api,
                "kind": "ClusterIssuer",
                "metadata": {"name": SELF_SIGNED_ISSUER},
                "spec": {"selfSigned": {}},
            },
        ),
        (
            f"/apis/{api}/namespaces/{NAMESPACE}/certificates",
            {
                "apiVersion": api,
                "kind": "Certificate",
                "metadata": {"name": CA_SECRET, "namespace": NAMESPACE},
                "spec": {
                    "isCA": True,
                    "commonName": "Clipper local CA",
                    "secretName": CA_SECRET,
                    "duration": "8760h",
                    "privateKey": {"algorithm": "ECDSA", "size": 256},
                    "issuerRef": {"name": SELF_SIGNED_ISSUER, "kind": "ClusterIssuer", "group": CM},
                },
            },
        ),
        (
            f"/apis/{api}/clusterissuers",
            {
                "apiVersion": api,
                "kind": "ClusterIssuer",
                "metadata": {"name": CA_ISSUER},
                "spec": {"ca": {"secretName": CA_SECRET}},
            },
        ),
    ]


def issuer(name: str) -> dict[str, Any]:
    return kubeapi.get_or_empty(f"/apis/{CM}/v1/clusterissuers/{name}")


def ca_certificate() -> bytes:
    """The local CA's certificate (PEM), to trust it."""
    secret = kubeapi.request("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/{CA_SECRET}")
    return base64.b64decode(secret["data"]["ca.crt"])


def issuer_conditions(name: str) -> str:
    conditions = issuer(name).get("status", {}).get("conditions", [])
    return (
        "; ".join(f"{cond['type']}={cond['status']}: {cond.get('message', '')}" for cond in conditions) or "no status"
    )


def ensure(timeout: float = 180) -> None:
    """Apply the CRDs, the controller and the local CA's issuers; wait until the CA issuer is
    Ready. The images must be in containerd."""
    started = time.monotonic()
    addons.apply_crds(crds(), "cert-manager")
    addons.apply_all(
        [*addons.identity(NAME, NAMESPACE, RULES), (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment())]
    )
    addons.wait_ready(NAME, NAMESPACE, timeout)
    addons.apply_all(issuers())
    addons.wait_until(
        lambda: kubeapi.condition_true(issuer(CA_ISSUER), "Ready"),
        timeout,
        f"ClusterIssuer {CA_ISSUER} Ready",
        lambda: issuer_conditions(CA_ISSUER),
    )
    process.progress(f"cert-manager and the local CA ready after {time.monotonic() - started:.0f}s")
