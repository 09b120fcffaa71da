"""The CRI sandbox ("pause") image, compiled from C here and imported into our containerd."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.imagearchive import pack
from helm_mgmt.paths import cache_root

SOURCE = Path(__file__).with_name("pause.c")


def archive() -> Path:
    """A docker-archive of the pause image, built once into the cache."""
    out = cache_root() / "localcluster" / "pause-3.10.tar"
    if out.exists():
        return out
    binary = cache_root() / "localcluster" / "pause"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["gcc", "-static", "-Os", "-s", "-Wall", "-Werror", "-o", str(binary), str(SOURCE)],
        check=True,
        capture_output=True,
        text=True,
    )
    return pack(out, c.PAUSE_IMAGE, {"/pause": binary}, ["/pause"])
