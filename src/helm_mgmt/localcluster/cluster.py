"""Bring the local single-node cluster up: build what is missing, start what is not running, wait."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from helm_mgmt import debian
from helm_mgmt.localcluster import (
    build,
    containerd,
    controlplane,
    dns,
    kubeapi,
    metrics,
    netpolicy,
    network,
    node,
    pause,
    pki,
    process,
    rbac,
    storage,
    teardown,
)
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.components import kubeconfig_path
from helm_mgmt.paths import cache_root, logs_dir

APT_PACKAGES = {
    "containerd": "containerd",
    "runc": "runc",
    "ctr": "containerd",
    "iptables": "iptables",
    "conntrack": "conntrack",
    "ipset": "ipset",
    "ip": "iproute2",
    "modprobe": "kmod",
    "openssl": "openssl",
    "gcc": "gcc",
}
CNI_PLUGINS = Path("/usr/lib/cni")


def _ensure_host_packages() -> None:
    missing = sorted({pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None})
    if not (CNI_PLUGINS / "bridge").exists():
        missing.append("containernetworking-plugins")
    if not missing:
        return
    process.progress(f"installing Debian packages: {' '.join(missing)}")
    debian.install(missing, logs_dir() / "cluster-apt.log")


def binaries() -> dict[str, Path]:
    """Every program the cluster runs, built into the cache on first use."""
    started = time.monotonic()
    bins = {
        **build.kubernetes(),
        "etcd": build.etcd(),
        "coredns": build.coredns(),
        "metrics-server": build.metrics_server(),
        "kube-router": build.kube_router(),
    }
    process.progress(f"binaries ready after {time.monotonic() - started:.0f}s")
    return bins


def healthy() -> bool:
    return all(process.pid_of(name) for name in c.COMPONENTS) and kubeapi.reachable("/readyz") and kubeapi.node_ready()


def _cache_record() -> Path:
    return c.state_dir() / "started-from-cache"


def check_same_cache() -> None:
    """Refuse a running cluster started from another build cache: this run would look for kubectl,
    helm and the images in its own cache and fail at every later step instead."""
    record = _cache_record()
    if not record.exists() or not any(process.pid_of(name) for name in c.COMPONENTS):
        return
    started_with = Path(record.read_text().strip())
    if started_with != cache_root().resolve():
        raise process.ComponentError(
            f"the running cluster was started with the build cache {started_with}, but this run uses "
            f"{cache_root().resolve()} (CLIPPER_KIT_CACHE): stop it first with `helm-mgmt down`, "
            f"or run with CLIPPER_KIT_CACHE={started_with}"
        )


def up() -> Path:
    """``cluster up``: make sure the cluster runs, then print the ``export KUBECONFIG=...`` line."""
    path = ensure_up()
    print(f"export KUBECONFIG={path}", flush=True)
    return path


def ensure_up() -> Path:
    """Start every component that is not running, wait until all are healthy; return the kubeconfig."""
    process.progress("checking the cluster")
    check_same_cache()
    if healthy():
        process.progress("cluster already up and healthy")
        return kubeconfig_path()
    if c.state_dir().exists() and not any(process.pid_of(name) for name in c.COMPONENTS):
        process.progress("removing what a previous run left behind (no component is running)")
        problems = teardown.down()
        if problems:
            raise process.ComponentError("cannot clean the previous run: " + "; ".join(problems))
    _ensure_host_packages()
    bins = binaries()
    c.state_dir().mkdir(parents=True, exist_ok=True)
    _cache_record().write_text(f"{cache_root().resolve()}\n")
    teardown.record_host_paths()
    teardown.prepare_netns()
    pki.ensure()
    network.setup()
    process.progress("starting containerd")
    containerd.start()
    containerd.import_image(pause.archive(), c.PAUSE_IMAGE)
    process.progress("starting etcd")
    controlplane.start_etcd(bins["etcd"])
    process.progress("starting kube-apiserver")
    controlplane.start_apiserver(bins["kube-apiserver"])
    rbac.ensure()
    process.progress("starting kube-controller-manager and kube-scheduler")
    controlplane.start_controller_manager(bins["kube-controller-manager"])
    controlplane.start_scheduler(bins["kube-scheduler"])
    process.progress("starting kubelet and kube-proxy")
    node.start_kubelet(bins["kubelet"])
    node.start_kube_proxy(bins["kube-proxy"])
    process.progress("starting kube-router (NetworkPolicy enforcement)")
    netpolicy.start(bins["kube-router"])
    process.progress("starting CoreDNS")
    dns.start(bins["coredns"])
    process.progress("starting the volume provisioner")
    process.start("provisioner", [sys.executable, "-m", "helm_mgmt.localcluster.provisioner"])
    kubeapi.create_if_absent("/apis/storage.k8s.io/v1/storageclasses", storage.storage_class())
    node.wait_ready()
    process.progress("starting metrics-server")
    metrics.start(bins["metrics-server"])
    return kubeconfig_path()
