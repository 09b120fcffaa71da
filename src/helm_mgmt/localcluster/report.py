"""``cluster status``: each component's process and version, API readiness and node readiness."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from helm_mgmt.gobuild import bin_dir
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import containerd, kubeapi, process

VERSION_FLAGS = {"coredns": "-version"}


def _binary(name: str) -> Path | None:
    candidates = {
        "etcd": bin_dir("etcd", c.ETCD_VERSION) / "etcd",
        "coredns": bin_dir("coredns", c.COREDNS_VERSION) / "coredns",
        "metrics-server": bin_dir("metrics-server", c.METRICS_SERVER_VERSION) / "metrics-server",
    }
    path = candidates.get(name, bin_dir("kubernetes", c.KUBERNETES_VERSION) / name)
    return path if path.exists() else None


def _version(name: str) -> str:
    if name == "containerd":
        return containerd.version()
    if name == "provisioner":
        return "clipper-kit.local/hostpath"
    binary = _binary(name)
    if binary is None:
        return "not built"
    out = subprocess.run([str(binary), VERSION_FLAGS.get(name, "--version")], capture_output=True, text=True)
    found = re.search(r"v?\d+\.\d+\.\d+", out.stdout + out.stderr)
    return found.group(0) if found else "unknown"


def status() -> dict[str, Any]:
    components = {}
    for name in c.COMPONENTS:
        pid = process.pid_of(name)
        components[name] = {
            "running": pid is not None,
            "pid": pid,
            "version": _version(name),
            "log": str(process.log_file(name)),
        }
    node: dict[str, Any] = {"name": c.NODE_NAME, "ready": False, "kubeletVersion": None}
    api_ready = components["kube-apiserver"]["running"] and kubeapi.reachable("/readyz")
    if api_ready:
        try:
            info = kubeapi.request("GET", f"/api/v1/nodes/{c.NODE_NAME}")
            node["ready"] = kubeapi.node_ready()
            node["kubeletVersion"] = info["status"]["nodeInfo"]["kubeletVersion"]
        except kubeapi.ApiError:
            pass
    return {
        "components": components,
        "apiserverReady": api_ready,
        "node": node,
        "kubeconfig": str(c.kubeconfig_path()),
        "healthy": all(comp["running"] for comp in components.values()) and node["ready"],
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"{'COMPONENT':<24} {'STATE':<8} {'PID':>7}  VERSION"]
    for name, comp in report["components"].items():
        state = "running" if comp["running"] else "stopped"
        lines.append(f"{name:<24} {state:<8} {comp['pid'] or '-':>7}  {comp['version']}")
    node = report["node"]
    lines.append(f"apiserver ready: {'yes' if report['apiserverReady'] else 'no'}")
    lines.append(f"node {node['name']}: {'Ready' if node['ready'] else 'NotReady'} ({node['kubeletVersion'] or '-'})")
    lines.append(f"kubeconfig: {report['kubeconfig']}")
    return "\n".join(lines)
