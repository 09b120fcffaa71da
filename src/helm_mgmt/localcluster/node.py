"""The node agents: kubelet (cgroupfs driver, our containerd) and kube-proxy (iptables mode)."""

from __future__ import annotations

import json
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import containerd, kubeapi, pki, process


def kubelet_dir() -> Path:
    return c.state_dir() / "kubelet"


def _kubelet_config() -> Path:
    d = pki.pki_dir()
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": c.NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(d / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(d / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(d / "kubelet-serving.key"),
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{containerd.socket_path()}",
        "clusterDNS": [c.CLUSTER_DNS],
        "clusterDomain": c.CLUSTER_DOMAIN,
        "resolvConf": "",
        "failSwapOn": False,
        "podLogsDir": str(c.state_dir() / "pod-logs"),
        "volumePluginDir": str(kubelet_dir() / "volume-plugins"),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "serializeImagePulls": False,
        "maxPods": 110,
    }
    path = c.state_dir() / "kubelet-config.json"
    process.write_config(path, json.dumps(config, indent=2))
    return path


def start_kubelet(binary: Path) -> None:
    kubelet_dir().mkdir(parents=True, exist_ok=True)
    process.start(
        "kubelet",
        [
            str(binary),
            f"--config={_kubelet_config()}",
            f"--kubeconfig={pki.kubeconfig('kubelet')}",
            f"--root-dir={kubelet_dir()}",
            f"--hostname-override={c.NODE_NAME}",
            f"--node-ip={c.NODE_IP}",
        ],
    )
    healthz = "http://127.0.0.1:10248/healthz"
    process.wait_for("kubelet", lambda: process.http_ok(healthz), 60, "kubelet /healthz")


def start_kube_proxy(binary: Path) -> None:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(pki.kubeconfig("kube-proxy"))},
        "mode": "iptables",
        "clusterCIDR": c.POD_CIDR,
        "hostnameOverride": c.NODE_NAME,
        "bindAddress": c.NODE_IP,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": [f"{c.NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0, "min": 0},
    }
    path = c.state_dir() / "kube-proxy-config.json"
    process.write_config(path, json.dumps(config, indent=2))
    process.start("kube-proxy", [str(binary), f"--config={path}"])
    healthz = "http://127.0.0.1:10256/healthz"
    process.wait_for("kube-proxy", lambda: process.http_ok(healthz), 60, "kube-proxy /healthz")


def wait_ready() -> None:
    process.wait_for("kubelet", kubeapi.node_ready, 180, f"node {c.NODE_NAME} Ready")
