"""``cluster down``: stop what ``up`` started and remove its mounts, interfaces, rules and files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from helm_mgmt.gobuild import bin_dir
from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster import containerd, netns, netpolicy, network, process

KUBELET_CGROUP = "kubepods"
CONTAINER_LOG_LINKS = Path("/var/log/containers")
NETNS_DIR = netns.NETNS_DIR
# Fixed host paths that kubelet, containerd's CRI and the CNI library create whatever they are told.
HOST_PATHS = (
    Path("/var/lib/cni"),
    NETNS_DIR,
    CONTAINER_LOG_LINKS,
    Path("/var/lib/kubelet"),
    Path("/usr/libexec/kubernetes"),
)


def _host_paths_record() -> Path:
    return c.state_dir() / "created-host-paths.json"


def record_host_paths() -> None:
    """Remember which fixed host paths do not exist yet, so that ``down`` removes only those."""
    record = _host_paths_record()
    if not record.exists():
        record.write_text(json.dumps([str(path) for path in HOST_PATHS if not path.exists()]))


def created_host_paths() -> list[Path]:
    """The fixed host paths that this cluster created (recorded by ``up``)."""
    record = _host_paths_record()
    return [Path(path) for path in json.loads(record.read_text())] if record.exists() else []


def _netns_record() -> Path:
    return c.state_dir() / "made-netns-mount-point"


def prepare_netns() -> None:
    """Make /run/netns a mount point before any pod (see netns.py), remembering whether we made it."""
    if netns.prepare():
        _netns_record().touch()


def _remove_created_host_paths() -> None:
    for path in created_host_paths():
        if path == NETNS_DIR:
            # Shared with `ip netns` users: removed only when nobody has a namespace there and no
            # other tool made it a mount point.
            if path.is_dir() and not any(path.iterdir()) and not netns.mount_count(path):
                path.rmdir()
        else:
            shutil.rmtree(path, ignore_errors=True)


def mountpoints_under(root: Path) -> list[str]:
    """Mount points below ``root``, deepest first."""
    points = [p for p in netns.mount_points() if p == str(root) or p.startswith(f"{root}/")]
    return sorted(points, key=len, reverse=True)


def _unmount(point: str) -> None:
    if subprocess.run(["umount", point], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", point], capture_output=True)


def shim_pids() -> list[int]:
    """containerd shims serving our socket (left when a task could not be deleted)."""
    socket = str(containerd.socket_path())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and socket.encode() in argv:
            pids.append(int(entry.name))
    return pids


def _remove_cgroups() -> list[str]:
    """Remove the kubelet's cgroup trees; return those that could not be removed."""
    failed = []
    for controller in Path("/sys/fs/cgroup").iterdir():
        root = controller / KUBELET_CGROUP
        if not root.is_dir():
            continue
        directories = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for directory in [*directories, root]:
            try:
                directory.rmdir()
            except OSError as err:
                failed.append(f"cgroup {directory}: {err.strerror}")
    return failed


def _remove_container_log_links() -> None:
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and os.readlink(link).startswith(str(c.state_dir())):
            link.unlink()


def down() -> list[str]:
    """Stop every component, then clean up what they left; safe to run when nothing is up.

    Returns what could not be removed (empty when the machine is clean again).
    """
    for name in reversed(c.COMPONENTS):
        if name == "containerd":
            continue
        if process.stop(name):
            process.progress(f"stopped {name}")
    kube_proxy = bin_dir("kubernetes", c.KUBERNETES_VERSION) / "kube-proxy"
    if kube_proxy.exists():
        subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True)
    netpolicy.cleanup()
    if (containerd.base() / "config.toml").exists() and not process.pid_of("containerd"):
        process.progress("starting containerd to release the pods a previous run left")
        containerd.start()
    namespaces: set[str] = set()
    if process.pid_of("containerd"):
        namespaces = containerd.network_namespaces()
        containerd.kill_all_tasks()
    if process.stop("containerd"):
        process.progress("stopped containerd")
    for pid in shim_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for point in mountpoints_under(c.state_dir()):
        _unmount(point)
    problems = netns.release([Path(path) for path in namespaces])
    netns.unprepare(_netns_record().exists())
    problems += _remove_cgroups()
    _remove_container_log_links()
    _remove_created_host_paths()
    network.teardown()
    problems += [f"still mounted: {point}" for point in mountpoints_under(c.state_dir())]
    if not problems:
        shutil.rmtree(c.state_dir(), ignore_errors=True)
        process.progress("cluster down: processes stopped, mounts, interfaces and state removed")
    return problems
