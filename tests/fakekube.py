"""A stand-in Kubernetes API server, so that `helm template --dry-run=server` can `lookup` Secrets
of an earlier release without a cluster.

It serves discovery for the kinds the charts render, GET (and list) of the Secrets a test
registers, and GET of the StatefulSets it registers; everything else is 404. The `fake_kube_api`
fixture starts it, points KUBECONFIG at it
and returns the `FakeKube` to register Secrets on. A test module gets the fixture with
`pytest_plugins = ["fakekube"]`.

PYTEST_DONT_REWRITE: this module asserts nothing, and test modules import it before pytest loads
it as a plugin (which would otherwise warn that it is too late to rewrite it).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from charttest import chart_path, example

from helm_mgmt.helm import Helm, parse_manifests

# group/version -> resource (plural) -> kind: what the charts render.
RESOURCES: dict[str, dict[str, str]] = {
    "v1": {
        "secrets": "Secret",
        "configmaps": "ConfigMap",
        "services": "Service",
        "serviceaccounts": "ServiceAccount",
        "pods": "Pod",
        "persistentvolumeclaims": "PersistentVolumeClaim",
    },
    "apps/v1": {"deployments": "Deployment", "statefulsets": "StatefulSet"},
    "batch/v1": {"jobs": "Job", "cronjobs": "CronJob"},
    "networking.k8s.io/v1": {"networkpolicies": "NetworkPolicy", "ingresses": "Ingress"},
    "policy/v1": {"poddisruptionbudgets": "PodDisruptionBudget"},
    "autoscaling/v2": {"horizontalpodautoscalers": "HorizontalPodAutoscaler"},
    "external-secrets.io/v1": {"externalsecrets": "ExternalSecret"},
    "gateway.networking.k8s.io/v1": {"httproutes": "HTTPRoute"},
}
SERVER_VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.0"}
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
# `helm template --dry-run=server` exists from Helm 3.13 on, so not on the oldest supported Helm 3.
LOOKUP_HELMS = ["helm4", "helm3"]


@dataclass
class FakeKube:
    """The Secrets the stand-in API server holds, by (namespace, name)."""

    kubeconfig: Path
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    statefulsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add_statefulset(self, name: str, containers: list[dict[str, Any]], *, namespace: str = "clipper") -> None:
        """Register a StatefulSet of release `clipper` with these pod containers."""
        meta = {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "clipper", "meta.helm.sh/release-namespace": namespace},
        }
        spec = {"template": {"spec": {"containers": containers}}}
        self.statefulsets[(namespace, name)] = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": spec,
        }

    def add_secret(
        self,
        name: str,
        data: Mapping[str, str],
        *,
        namespace: str = "clipper",
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Register (or replace) a Secret with `data` given in plain text. It is owned by release
        `clipper`, as after a real install (Helm 4 checks ownership before a dry run)."""
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": "clipper",
                    "meta.helm.sh/release-namespace": namespace,
                    **(annotations or {}),
                },
            },
            "type": "Opaque",
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
        }
        self.secrets[(namespace, name)] = secret
        return secret

    def response(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/version":
            return 200, SERVER_VERSION
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": _groups()}
        group_version = path.removeprefix("/apis/").removeprefix("/api/")
        if group_version in RESOURCES:
            return 200, _resource_list(group_version)
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (5, 6) and parts[4] == "secrets":
            namespace = parts[3]
            if len(parts) == 5:
                items = [s for (ns, _), s in self.secrets.items() if ns == namespace]
                return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": items}
            if (namespace, parts[5]) in self.secrets:
                return 200, self.secrets[(namespace, parts[5])]
        is_sts = parts[:4] == ["apis", "apps", "v1", "namespaces"] and len(parts) == 7 and parts[5] == "statefulsets"
        if is_sts and (parts[4], parts[6]) in self.statefulsets:
            return 200, self.statefulsets[(parts[4], parts[6])]
        return 404, NOT_FOUND


def _groups() -> list[dict[str, Any]]:
    groups = []
    for group_version in RESOURCES:
        if "/" in group_version:
            group, version = group_version.split("/")
            entry = {"groupVersion": group_version, "version": version}
            groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return groups


def _resource_list(group_version: str) -> dict[str, Any]:
    resources = [
        {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind, "verbs": ["get", "list"]}
        for plural, kind in RESOURCES[group_version].items()
    ]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        return

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        code, body = self.server.fake.response(urlsplit(self.path).path)
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeKube) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


def _kubeconfig(server_url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server_url}}],
        "users": [{"name": "fake", "user": {"token": "fake"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "clipper"}}],
        "current-context": "fake",
    }


@pytest.fixture
def fake_kube_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    """A stand-in API server on 127.0.0.1 with KUBECONFIG pointing at it; register Secrets on the
    returned FakeKube before rendering with `render_with_lookup`."""
    fake = FakeKube(kubeconfig=tmp_path / "kubeconfig")
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.kubeconfig.write_text(yaml.safe_dump(_kubeconfig(f"http://127.0.0.1:{server.server_address[1]}")))
    fake.kubeconfig.chmod(0o600)
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig))
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def render_with_lookup(chart: str, values: Mapping[str, Any] | None = None, helm: str = "helm4") -> list[dict]:
    """What `helm upgrade` would apply: a render whose `lookup` sees the cluster KUBECONFIG names.
    Raises HelmError when the chart refuses to render."""
    extra = ["--dry-run=server", "--disable-openapi-validation"]
    minimal = example(chart, "minimal")
    files = [minimal] if minimal.is_file() else []
    return parse_manifests(Helm(helm).template(chart_path(chart), files, values=values or {}, extra=extra))
