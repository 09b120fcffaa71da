"""A tiny test image (``probe``: idle, DNS lookup, file write) built from Go source in this package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helm_mgmt.gobuild import go_env
from helm_mgmt.localcluster.imagearchive import pack
from helm_mgmt.paths import cache_root

SOURCE = Path(__file__).with_name("probe")
IMAGE = "localhost/clipper-kit/probe:1"


def archive() -> Path:
    out = cache_root() / "localcluster" / "probe-1.tar"
    if out.exists():
        return out
    binary = out.with_name("probe")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = {**go_env(), "CGO_ENABLED": "0"}
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
        cwd=SOURCE,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return pack(out, IMAGE, {"/probe": binary}, ["/probe"])
