"""Debian packages the tool needs on the machine, installed with apt-get when missing (as root).

One function for every caller, so that concurrent installs (the cluster's and the image builder's
run in parallel) wait for each other instead of failing on dpkg's lock.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

# How long apt-get waits for another apt-get or dpkg (ours or the machine's) to finish.
LOCK_TIMEOUT_S = 600
_one_at_a_time = threading.Lock()


class DebianInstallError(RuntimeError):
    pass


def missing(packages: Iterable[str]) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed."""
    wanted = list(packages)
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *wanted], capture_output=True, text=True
    )
    installed = {line.split()[0] for line in query.stdout.splitlines() if line.endswith(" installed")}
    return [pkg for pkg in wanted if pkg not in installed]


def install(packages: Iterable[str], log: Path) -> None:
    """``apt-get update`` then ``apt-get install`` of the packages, output appended to ``log``."""
    wanted = sorted(set(packages))
    if not wanted:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT_S}"]
    with _one_at_a_time, log.open("a") as out:
        for cmd in (
            ["apt-get", *lock, "update", "-q"],
            ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *wanted],
        ):
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
                raise DebianInstallError(f"`{' '.join(cmd)}` failed; log: {log}\n{tail}")
