"""metrics-server as a host process on the node address, registered as the metrics.k8s.io API."""

from __future__ import annotations

from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import kubeapi, pki, process

NAME = "metrics-server"
PORT = 4443
API_VERSION = "v1beta1.metrics.k8s.io"


def _register() -> None:
    """A selector-less Service whose endpoint is the host process, and the APIService behind it."""
    meta = {"name": NAME, "namespace": "kube-system"}
    kubeapi.create_if_absent(
        "/api/v1/namespaces/kube-system/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": PORT}]},
        },
    )
    kubeapi.create_if_absent(
        "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {**meta, "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [c.NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": PORT, "protocol": "TCP"}],
        },
    )
    kubeapi.create_if_absent(
        "/apis/apiregistration.k8s.io/v1/apiservices",
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": API_VERSION},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"name": NAME, "namespace": "kube-system", "port": 443},
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    )


def _available() -> bool:
    try:
        api = kubeapi.request("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{API_VERSION}")
    except (OSError, kubeapi.ApiError):
        return False
    return kubeapi.condition_true(api, "Available")


def start(binary: Path) -> None:
    kubeconfig = pki.kubeconfig("metrics-server")
    d = pki.pki_dir()
    process.start(
        NAME,
        [
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={c.NODE_IP}",
            f"--secure-port={PORT}",
            f"--cert-dir={c.state_dir() / 'metrics-server'}",
            f"--kubelet-certificate-authority={d / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s",
        ],
    )
    livez = f"https://{c.NODE_IP}:{PORT}/livez"
    process.wait_for(NAME, lambda: process.http_ok(livez), 60, "metrics-server /livez")
    _register()
    process.wait_for(NAME, _available, 120, "metrics.k8s.io APIService Available")
