"""Our own containerd daemon (root, state and socket under the state dir) with the CRI plugin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import network, process

NAME = "containerd"
NAMESPACE = "k8s.io"


def base() -> Path:
    return c.state_dir() / "containerd"


def socket_path() -> Path:
    """The containerd socket; image builders import into it with ``ctr --address``."""
    return base() / "containerd.sock"


def ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", "--address", str(socket_path()), "--namespace", NAMESPACE, *args],
        check=check,
        capture_output=True,
        text=True,
    )


def _config() -> Path:
    b = base()
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    text = f"""version = 2
root = "{b}/root"
state = "{b}/state"

[grpc]
  address = "{socket_path()}"

[ttrpc]
  address = "{b}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{b}/opt"

[{cri}]
  sandbox_image = "{c.PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{network.cni_conf_dir()}"
"""
    path = b / "config.toml"
    process.write_config(path, text)
    return path


def responsive() -> bool:
    return socket_path().exists() and ctr("version", check=False).returncode == 0


def start() -> None:
    base().mkdir(parents=True, exist_ok=True)
    process.start(NAME, ["containerd", "--config", str(_config())])
    process.wait_for(NAME, responsive, 60, "containerd socket")


def has_image(reference: str) -> bool:
    return reference in ctr("images", "ls", "-q").stdout.split()


def import_image(archive: Path, reference: str) -> None:
    if not has_image(reference):
        process.progress(f"importing image {reference}")
        ctr("images", "import", str(archive))


def version() -> str:
    out = subprocess.run(["containerd", "--version"], capture_output=True, text=True).stdout.split()
    return out[2] if len(out) > 2 else "unknown"


def network_namespaces() -> set[str]:
    """Network namespace paths of the pod sandboxes that containerd knows."""
    paths = set()
    for cid in ctr("containers", "ls", "-q", check=False).stdout.split():
        info = ctr("containers", "info", cid, check=False)
        if info.returncode != 0:
            continue
        spec = json.loads(info.stdout).get("Spec") or {}
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network" and ns.get("path"):
                paths.add(ns["path"])
    return paths


def kill_all_tasks() -> None:
    """SIGKILL and delete every container task so the shims exit."""
    for line in ctr("tasks", "ls", check=False).stdout.splitlines()[1:]:
        task = line.split()[0]
        ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task, check=False)
    for line in ctr("tasks", "ls", check=False).stdout.splitlines()[1:]:
        ctr("tasks", "delete", "--force", line.split()[0], check=False)
