"""The pods' network namespace files under /run/netns, kept removable beside other users of `ip netns`.

The first `ip netns add` on a machine makes /run/netns a mount point (a recursive bind onto
itself, then shared). Done while pods run, that bind covers the pods' namespace mounts: they can
no longer be unmounted through /run/netns and their files cannot be removed (EBUSY), so `down`
fails, and every later `up` with it. So `up` makes /run/netns that mount point itself, exactly as
`ip` would, before any pod exists; a later `ip netns add` then finds it in place. `down` removes
only the cluster's namespaces, and the mount point only if it made it and nothing else is below.
Where an older run already left covered namespaces, the covering mount is moved aside for the
moment it takes to release the cluster's namespaces beneath it, then put back, so the namespaces
of other tools are never unmounted.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

NETNS_DIR = Path("/run/netns")


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def mount_points() -> list[str]:
    """Every mount point of this mount namespace, once per mount (stacked mounts repeat)."""
    return [line.split()[4].replace("\\040", " ") for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def mount_count(path: Path) -> int:
    """How many mounts sit exactly at ``path`` (more than one when one covers another)."""
    return mount_points().count(str(path))


def prepare() -> bool:
    """Make /run/netns a shared mount point, as `ip netns add` does; True when this call made it."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if mount_count(NETNS_DIR):
        return False
    for args in (["--rbind", str(NETNS_DIR), str(NETNS_DIR)], ["--make-rshared", str(NETNS_DIR)]):
        result = _mount(*args)
        if result.returncode != 0:
            raise RuntimeError(f"mount {' '.join(args)} failed: {result.stderr.strip()}")
    return True


def _unmount_all(path: Path) -> None:
    """Unmount every mount stacked at ``path`` that is reachable from here."""
    for _ in range(mount_count(path)):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            break


def _remove(paths: list[Path]) -> list[Path]:
    """Unmount and delete the namespace files; return those still busy."""
    busy = []
    for path in paths:
        _unmount_all(path)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            busy.append(path)
    return busy


def _release_covered(paths: list[Path]) -> list[Path]:
    """Move the mount covering /run/netns aside, release ``paths`` beneath it, move it back."""
    hold = Path(tempfile.mkdtemp(prefix="clipper-kit-netns-"))
    try:
        if _mount("--move", str(NETNS_DIR), str(hold)).returncode != 0:
            return paths
        try:
            return _remove(paths)
        finally:
            _mount("--move", str(hold), str(NETNS_DIR))
    finally:
        hold.rmdir()


def release(paths: list[Path]) -> list[str]:
    """Remove the cluster's namespace files; return what could not be removed, as problems."""
    # containerd names them under /var/run, a link to /run, which is what the mount table says.
    busy = _remove([path.parent.resolve() / path.name for path in paths])
    if busy and mount_count(NETNS_DIR):
        busy = _release_covered(busy)
    return [f"network namespace {path}: still mounted beneath /run/netns" for path in busy]


def unprepare(made_by_us: bool) -> None:
    """Take away the mount point ``prepare`` made, when nothing else is below it any more."""
    if made_by_us and mount_count(NETNS_DIR) and not any(NETNS_DIR.iterdir()):
        subprocess.run(["umount", str(NETNS_DIR)], capture_output=True)
