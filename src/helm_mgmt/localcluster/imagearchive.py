"""Pack static binaries as single-layer images (docker-archive tar) without any registry."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def pack(archive: Path, reference: str, files: dict[str, Path], entrypoint: list[str]) -> Path:
    """Write ``archive`` holding image ``reference`` whose only layer has ``files`` (path -> source)."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
        tmp = tarfile.TarInfo("tmp")
        tmp.type = tarfile.DIRTYPE
        tmp.mode = 0o1777
        layer.addfile(tmp)
        for path, source in files.items():
            _add(layer, path.lstrip("/"), source.read_bytes(), 0o755)
    layer_bytes = layer_buf.getvalue()
    layer_digest = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        }
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [f"{layer_digest}/layer.tar"]}]
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w") as out:
        _add(out, config_name, config, 0o644)
        _add(out, f"{layer_digest}/layer.tar", layer_bytes, 0o644)
        _add(out, "manifest.json", json.dumps(manifest).encode(), 0o644)
    return archive


@dataclass(frozen=True)
class GoBinaryImage:
    """An image of one static binary built from the Go module in ``source``. Its tag is a digest of
    the module's files, so an edited program is rebuilt and imported under a new name."""

    name: str
    source: Path

    @property
    def tag(self) -> str:
        files = [self.source / "go.mod", *sorted(self.source.glob("*.go"))]
        return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()[:12]

    @property
    def reference(self) -> str:
        return f"localhost/clipper-kit/{self.name}:{self.tag}"

    def archive(self) -> Path:
        """The docker-archive in the cache, built (under a lock) when missing."""
        from helm_mgmt.gobuild import go_env
        from helm_mgmt.paths import cache_lock, cache_root

        tag = self.tag
        out = cache_root() / "localcluster" / f"{self.name}-{tag}.tar"
        if out.exists():
            return out
        with cache_lock(out.with_suffix(".lock")):
            if not out.exists():
                binary = out.with_name(f"{self.name}-{tag}")
                binary.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
                    cwd=self.source,
                    env={**go_env(), "CGO_ENABLED": "0"},
                    check=True,
                    capture_output=True,
                    text=True,
                )
                pack(out, self.reference, {f"/{self.name}": binary}, [f"/{self.name}"])
        return out
