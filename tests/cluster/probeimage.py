"""A tiny test image (``probe``: idle, DNS lookup, file write, HTTP serve/get) built
from Go source here.

The tag is a digest of the source, so an edited probe is rebuilt and imported under a new name.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from helm_mgmt.gobuild import go_env
from helm_mgmt.localcluster.imagearchive import pack
from helm_mgmt.paths import cache_root

SOURCE = Path(__file__).with_name("probe")
SOURCES = [SOURCE / "go.mod", *sorted(SOURCE.glob("*.go"))]
TAG = hashlib.sha256(b"".join(path.read_bytes() for path in SOURCES)).hexdigest()[:12]
IMAGE = f"localhost/clipper-kit/probe:{TAG}"


def archive() -> Path:
    out = cache_root() / "localcluster" / f"probe-{TAG}.tar"
    if out.exists():
        return out
    binary = out.with_name(f"probe-{TAG}")
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
