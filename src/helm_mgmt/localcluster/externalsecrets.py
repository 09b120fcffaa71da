"""External Secrets Operator in the local cluster: its controller in namespace ``external-secrets``,
built with the ``kubernetes`` and ``fake`` providers only (``platformbuild.external_secrets``), so
that the charts' ExternalSecrets are reconciled by the real operator against a real store (Secrets
of another namespace, read with a ServiceAccount token: ``secretstore.py``). Its CRDs come from the module's
``deploy/crds/bundle.yaml``; they need no conversion webhook, so the webhook and the cert
controller are not run. Push secrets are off: the local cluster writes nothing back to a store."""

from __future__ import annotations

import time
from typing import Any

import yaml

from helm_mgmt.localcluster import addons, process
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.rbac import READ

NAMESPACE = "external-secrets"
NAME = "external-secrets"
IMAGE = f"clipper.local/external-secrets:{c.ESO_VERSION}"
METRICS_PORT = 8080
ESO = "external-secrets.io"
GENERATORS = "generators.external-secrets.io"
RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [ESO],
        "resources": ["secretstores", "clustersecretstores", "externalsecrets", "clusterexternalsecrets"],
        "verbs": READ,
    },
    {
        "apiGroups": [ESO],
        "resources": [
            f"{kind}{sub}"
            for kind in ("externalsecrets", "secretstores", "clustersecretstores", "clusterexternalsecrets")
            for sub in ("", "/status")
        ],
        "verbs": ["get", "update", "patch"],
    },
    # A ClusterExternalSecret makes ExternalSecrets in the namespaces it selects.
    {"apiGroups": [ESO], "resources": ["externalsecrets"], "verbs": ["create", "update", "delete"]},
    {"apiGroups": [GENERATORS], "resources": ["fakes", "passwords", "uuids", "clustergenerators"], "verbs": READ},
    {
        "apiGroups": [GENERATORS],
        "resources": ["generatorstates"],
        "verbs": [*READ, "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["serviceaccounts", "namespaces", "configmaps"], "verbs": READ},
    # It writes the Secrets that ExternalSecrets target, in any namespace.
    {"apiGroups": [""], "resources": ["secrets"], "verbs": [*READ, "create", "update", "delete", "patch"]},
    # The kubernetes provider authenticates as the store's ServiceAccount with a token it requests.
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
]


def args() -> list[str]:
    return [
        f"--metrics-addr=:{METRICS_PORT}",
        "--enable-leader-election=false",
        "--concurrent=1",
        "--loglevel=info",
        "--enable-push-secret-reconciler=false",
        "--enable-cluster-push-secret-reconciler=false",
    ]


def deployment() -> dict[str, Any]:
    container = {
        "image": IMAGE,
        "args": args(),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 5},
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }
    return addons.deployment(NAME, NAMESPACE, container)


def crds() -> list[dict[str, Any]]:
    from helm_mgmt.localcluster.build import module_dir
    from helm_mgmt.localcluster.platformbuild import ESO_MODULE

    bundle = module_dir(ESO_MODULE, c.ESO_VERSION) / "deploy" / "crds" / "bundle.yaml"
    return [doc for doc in yaml.safe_load_all(bundle.read_text()) if doc]


def ensure(timeout: float = 180) -> None:
    """Apply the CRDs and objects and wait until the controller is Ready. Its image must be in
    containerd."""
    started = time.monotonic()
    addons.apply_crds(crds(), "External Secrets")
    addons.apply_all(
        [*addons.identity(NAME, NAMESPACE, RULES), (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment())]
    )
    addons.wait_ready(NAME, NAMESPACE, timeout)
    process.progress(f"External Secrets Operator ready after {time.monotonic() - started:.0f}s")
