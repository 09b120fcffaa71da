"""Pinned versions and fixed addresses of the local single-node cluster."""

from __future__ import annotations

import os
from pathlib import Path

KUBERNETES_VERSION = "v1.34.4"
STAGING_VERSION = "v0.34.4"
ETCD_VERSION = "v3.6.16"
COREDNS_VERSION = "v1.13.1"
METRICS_SERVER_VERSION = "v0.8.0"
# The only version the module proxy serves; security flaws are reported for it, so it runs only
# here, bound to this node (see README.md).
KUBE_ROUTER_VERSION = "v2.1.0"

# The ingress controller (ingress-nginx provider, class "nginx") and Gateway API implementation.
TRAEFIK_VERSION = "v3.6.12"
# External Secrets Operator: v1.x does not build from the module proxy; this one serves
# external-secrets.io/v1.
ESO_VERSION = "v0.16.2"
# cert-manager: its library module (the commands are not served), without the Venafi issuer.
CERT_MANAGER_VERSION = "v1.21.2"
# The sites' domain: the local stack serves clipper.local, the tests their own names under it.
SITE_DOMAIN = "clipper.local"
# Let's Encrypt's ACME test server, the local cluster's stand-in for a public ACME CA.
PEBBLE_VERSION = "v2.10.3"
# The Gateway API release whose standard-channel CRDs the cluster installs.
GATEWAY_API_VERSION = "v1.4.1"

KUBE_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)

# Stopped in reverse: node agents before the control plane, containerd last.
COMPONENTS = (
    "containerd",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kube-router",
    "coredns",
    "provisioner",
    "metrics-server",
)
BRIDGE = "clipper0"
# A fixed, locally administered address. A bridge made without one takes the lowest address of its
# ports and changes it whenever a pod's veth with a lower one comes or goes; pods that learned the
# gateway's address from a veth that is gone then send into nothing until their ARP entry expires.
BRIDGE_MAC = "02:63:6c:69:70:01"
BRIDGE_CIDR = "10.244.0.1/24"
NODE_IP = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
CLUSTER_DNS = NODE_IP
CLUSTER_DOMAIN = "cluster.local"
NODE_NAME = "clipper-node"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 23790
ETCD_PEER_PORT = 23800
STORAGE_CLASS = "standard"
PAUSE_IMAGE = "localhost/clipper-kit/pause:3.10"


def state_dir() -> Path:
    """Where the running cluster keeps its certificates, data, sockets and pid files."""
    return Path(os.environ.get("CLIPPER_KIT_STATE") or "/var/lib/clipper-kit/cluster")


def kubeconfig_path() -> Path:
    """The admin kubeconfig that helm, kubectl and helm-mgmt use."""
    return state_dir() / "admin.kubeconfig"
