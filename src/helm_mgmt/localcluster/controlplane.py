"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as host processes."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import kubeapi, pki, process

ETCD_URL = f"http://127.0.0.1:{c.ETCD_CLIENT_PORT}"


def etcd_healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{ETCD_URL}/health", timeout=2) as resp:
            return b'"true"' in resp.read()
    except OSError:
        return False


def start_etcd(etcd: Path) -> None:
    peer = f"http://127.0.0.1:{c.ETCD_PEER_PORT}"
    process.start(
        "etcd",
        [
            str(etcd),
            "--name=clipper",
            f"--data-dir={c.state_dir() / 'etcd'}",
            f"--listen-client-urls={ETCD_URL}",
            f"--advertise-client-urls={ETCD_URL}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=clipper={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
    )
    process.wait_for("etcd", etcd_healthy, 60, "etcd health")


def start_apiserver(binary: Path) -> None:
    d = pki.pki_dir()
    process.start(
        "kube-apiserver",
        [
            str(binary),
            f"--advertise-address={c.NODE_IP}",
            f"--bind-address={c.NODE_IP}",
            f"--secure-port={c.APISERVER_PORT}",
            f"--etcd-servers={ETCD_URL}",
            f"--service-cluster-ip-range={c.SERVICE_CIDR}",
            f"--client-ca-file={d / 'ca.crt'}",
            f"--tls-cert-file={d / 'apiserver.crt'}",
            f"--tls-private-key-file={d / 'apiserver.key'}",
            f"--kubelet-client-certificate={d / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={d / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={d / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            f"--service-account-issuer=https://kubernetes.default.svc.{c.CLUSTER_DOMAIN}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction,PodSecurity",
            "--allow-privileged=true",
            f"--requestheader-client-ca-file={d / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={d / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={d / 'front-proxy-client.key'}",
            "--enable-aggregator-routing=true",
            "--profiling=false",
        ],
    )
    process.wait_for("kube-apiserver", lambda: kubeapi.reachable("/readyz"), 120, "kube-apiserver /readyz")


def _component_args(name: str, port: int) -> list[str]:
    kubeconfig = pki.kubeconfig(name)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def start_controller_manager(binary: Path) -> None:
    d = pki.pki_dir()
    process.start(
        "kube-controller-manager",
        [
            str(binary),
            *_component_args("controller-manager", 10257),
            f"--cluster-signing-cert-file={d / 'ca.crt'}",
            f"--cluster-signing-key-file={d / 'ca.key'}",
            f"--root-ca-file={d / 'ca.crt'}",
            f"--service-account-private-key-file={d / 'sa.key'}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={c.SERVICE_CIDR}",
            f"--flex-volume-plugin-dir={c.state_dir() / 'kubelet' / 'volume-plugins'}",
        ],
    )
    healthz = "https://127.0.0.1:10257/healthz"
    process.wait_for("kube-controller-manager", lambda: process.http_ok(healthz), 60, "controller-manager /healthz")


def start_scheduler(binary: Path) -> None:
    process.start("kube-scheduler", [str(binary), *_component_args("scheduler", 10259)])
    healthz = "https://127.0.0.1:10259/healthz"
    process.wait_for("kube-scheduler", lambda: process.http_ok(healthz), 60, "scheduler /healthz")
