"""Build Go commands from the Go module proxy into the versioned cache.

Every binary lands in ``<cache>/bin/<name>-<version>/``; a binary already there is reused, so a
second run costs nothing. The Go module and build caches live under ``<cache>/go`` so that
rebuilding after a version bump only compiles what changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from helm_mgmt.paths import cache_lock, cache_root, logs_dir

HEARTBEAT_S = 30.0


class BuildError(RuntimeError):
    pass


def go_env() -> dict[str, str]:
    go = cache_root() / "go"
    env = dict(os.environ)
    env.update(
        GOPATH=str(go),
        GOMODCACHE=str(go / "mod"),
        GOCACHE=str(go / "build"),
        GOFLAGS="-mod=mod",
        CGO_ENABLED=env.get("CGO_ENABLED", "0"),
        GOTOOLCHAIN="local",
    )
    return env


def bin_dir(name: str, version: str) -> Path:
    return cache_root() / "bin" / f"{name}-{version}"


def go_install(
    name: str,
    version: str,
    package: str,
    binary: str,
    ldflags: str = "",
    cwd: Path | None = None,
    env_extra: dict[str, str] | None = None,
    tags: str = "",
) -> Path:
    """``go install package`` into the cache unless the binary is already there; return its path.

    ``package`` is either ``module/path/cmd@version`` or, with ``cwd`` set to a wrapper module,
    a package path resolved inside that module.
    """
    target = bin_dir(name, version)
    exe = target / binary
    if exe.is_file():
        return exe
    # `go install` writes the binary in place: a second process must not run a half-written one.
    with cache_lock(target.parent / f".{target.name}.lock"):
        if not exe.is_file():
            _build(name, version, package, exe, ldflags, cwd, env_extra, tags)
    return exe


def _build(
    name: str,
    version: str,
    package: str,
    exe: Path,
    ldflags: str,
    cwd: Path | None,
    env_extra: dict[str, str] | None,
    tags: str,
) -> None:
    exe.parent.mkdir(parents=True, exist_ok=True)
    env = go_env()
    env["GOBIN"] = str(exe.parent)
    if env_extra:
        env.update(env_extra)
    log = logs_dir() / f"build-{name}-{version}.log"
    cmd = ["go", "install", "-trimpath"]
    if ldflags:
        cmd += ["-ldflags", ldflags]
    if tags:
        cmd += ["-tags", tags]
    cmd.append(package)
    print(f"building {name} {version} (log: {log})", file=sys.stderr, flush=True)
    with log.open("w") as out:
        result = subprocess.run(cmd, cwd=cwd or cache_root(), env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not exe.is_file():
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise BuildError(f"building {name} {version} failed (exit {result.returncode}); see {log}:\n{tail}")


def run_logged(cmd: list[str], cwd: Path, log: Path, env: dict[str, str], what: str) -> None:
    """Run ``cmd`` with its output appended to ``log``; a long run reports every 30 s that it is
    still going; a failure raises BuildError with the log's last lines."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while True:
            try:
                returncode = proc.wait(timeout=HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                print(f"  still running {what} ({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)
    if returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise BuildError(f"{what} failed (exit {returncode}); see {log}:\n{tail}")


def run_go(args: list[str], cwd: Path, log: Path, env_extra: dict[str, str] | None = None) -> None:
    """``go args`` with the shared Go caches, through ``run_logged``."""
    run_logged(["go", *args], cwd, log, {**go_env(), **(env_extra or {})}, f"go {args[0]}")
