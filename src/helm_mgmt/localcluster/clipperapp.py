"""The real Clipper, built here from its source: the API binary, the migrate CLI with the schema
migrations, and the frontend's production build.

The source is, in this order: ``CLIPPER_APP_SOURCE`` (a folder holding ``backend/`` and
``frontend/``, or a snapshot tarball), the snapshot tarball beside the checkout
(``../shared/upstream/clipper-*.tar.gz``), or a clone of the pinned upstream commit (needs git
and access to GitHub). Every product is cached under ``<cache>/clipper-app/`` by the source's
digest, so a second run only hashes the tarball. A builder called from two threads builds once:
the second call waits for the first.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from helm_mgmt.gobuild import go_install, run_go, run_logged
from helm_mgmt.paths import REPO_ROOT, cache_root, logs_dir

UPSTREAM_REPOSITORY = "https://github.com/subculture-collective/clipper.git"
PINNED_COMMIT = "fb1e1442c9c9299710a0b8a55fc0ccc418412e57"
SNAPSHOT_DIR = REPO_ROOT.parent / "shared" / "upstream"
MIGRATE_MODULE = "github.com/golang-migrate/migrate/v4"
MIGRATE_VERSION = "v4.19.1"
# The API origin baked into the SPA: the charts serve one site, the API under /api on the same host.
VITE_API_BASE_URL = "/api/v1"
# golang-migrate's file names; the seed SQL files beside them are not migrations.
MIGRATION_FILE = re.compile(r"^(\d+)_[\w.-]+\.(up|down)\.sql$")
# Bump when a build step below changes what it produces.
BUILD_FORMAT = "1"

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class AppSourceError(RuntimeError):
    pass


@dataclass(frozen=True)
class AppSource:
    root: Path
    key: str
    origin: str

    @property
    def backend(self) -> Path:
        return self.root / "backend"

    @property
    def frontend(self) -> Path:
        return self.root / "frontend"


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _app_cache() -> Path:
    path = cache_root() / "clipper-app"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _progress(message: str) -> None:
    print(f"[clipper-app] {message}", file=sys.stderr, flush=True)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not {"node_modules", "dist", ".git"} & set(rel.parts):
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _extract(tarball: Path) -> AppSource:
    key = _file_digest(tarball)
    target = _app_cache() / f"src-{key}"
    if not target.is_dir():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        with tarfile.open(tarball) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(target)
    tops = [p for p in target.iterdir() if p.is_dir()]
    root = tops[0] if len(tops) == 1 and not (target / "backend").is_dir() else target
    return AppSource(root, key, str(tarball))


def _clone_pinned() -> AppSource:
    target = _app_cache() / f"git-{PINNED_COMMIT[:12]}"
    if not (target / "backend").is_dir():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for cmd in (
            ["git", "clone", "--filter=blob:none", "--no-checkout", UPSTREAM_REPOSITORY, str(partial)],
            ["git", "-C", str(partial), "checkout", "--quiet", PINNED_COMMIT],
        ):
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise AppSourceError(
                    f"no Clipper source: CLIPPER_APP_SOURCE is unset, there is no snapshot in {SNAPSHOT_DIR}, "
                    f"and `{' '.join(cmd)}` failed: {result.stderr.strip()[-300:]}. Point CLIPPER_APP_SOURCE at "
                    "a checkout of Clipper (a folder with backend/ and frontend/) or at a snapshot tarball"
                )
        partial.rename(target)
    return AppSource(target, PINNED_COMMIT[:16], f"{UPSTREAM_REPOSITORY}@{PINNED_COMMIT}")


@cache
def source() -> AppSource:
    """Where the Clipper source comes from (see the module docstring), extracted into the cache."""
    given = os.environ.get("CLIPPER_APP_SOURCE")
    if given:
        path = Path(given).expanduser().resolve()
        if path.is_file():
            return _extract(path)
        if (path / "backend" / "go.mod").is_file() and (path / "frontend" / "package.json").is_file():
            return AppSource(path, _tree_digest(path), str(path))
        raise AppSourceError(
            f"CLIPPER_APP_SOURCE={given} is neither a snapshot tarball nor a folder holding "
            "backend/go.mod and frontend/package.json: point it at a Clipper checkout or snapshot"
        )
    snapshots = sorted(SNAPSHOT_DIR.glob("clipper-*.tar.gz"))
    if len(snapshots) > 1:
        raise AppSourceError(
            f"{len(snapshots)} snapshots in {SNAPSHOT_DIR} ({', '.join(p.name for p in snapshots)}): "
            "set CLIPPER_APP_SOURCE to the one to build"
        )
    if snapshots:
        return _extract(snapshots[0])
    return _clone_pinned()


def source_key() -> str:
    """Digest of the source and of the build steps: the cache key of every product."""
    return hashlib.sha256(f"{source().key}-{BUILD_FORMAT}".encode()).hexdigest()[:16]


def backend_binary() -> Path:
    """``cmd/api`` built statically (CGO off) with the shared Go module and build caches."""
    with _lock("backend"):
        exe = _app_cache() / f"backend-{source_key()}" / "api"
        if exe.is_file():
            return exe
        log = logs_dir() / "build-clipper-backend.log"
        log.write_text(f"building cmd/api from {source().origin}\n")
        started = time.monotonic()
        _progress(f"building the backend (go build ./cmd/api; log: {log})")
        partial = exe.with_name("api.partial")
        exe.parent.mkdir(parents=True, exist_ok=True)
        run_go(
            ["build", "-trimpath", "-ldflags", "-s -w", "-o", str(partial), "./cmd/api"],
            source().backend,
            log,
            env_extra={"CGO_ENABLED": "0"},
        )
        partial.rename(exe)
        _progress(f"built the backend in {time.monotonic() - started:.0f} s")
        return exe


def backend_templates() -> Path:
    """The server-rendered pages' templates, which the API loads from ``./templates``."""
    return source().backend / "templates"


def migrate_binary() -> Path:
    """golang-migrate's CLI with the PostgreSQL driver."""
    with _lock("migrate"):
        return go_install(
            "migrate",
            MIGRATE_VERSION,
            f"{MIGRATE_MODULE}/cmd/migrate@{MIGRATE_VERSION}",
            "migrate",
            ldflags=f"-s -w -X main.Version={MIGRATE_VERSION}",
            tags="postgres",
        )


def migrations_dir() -> Path:
    """Only the migration files of ``backend/migrations`` (no seed data), in a folder of their own."""
    with _lock("migrations"):
        target = _app_cache() / f"migrations-{source_key()}"
        if target.is_dir():
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for path in sorted((source().backend / "migrations").iterdir()):
            if MIGRATION_FILE.match(path.name):
                shutil.copyfile(path, partial / path.name)
        partial.rename(target)
        return target


def newest_migration(directory: Path | None = None) -> int:
    """The highest migration version in the folder (what ``schema_migrations`` reaches)."""
    versions = [
        int(m.group(1)) for p in (directory or migrations_dir()).iterdir() if (m := MIGRATION_FILE.match(p.name))
    ]
    return max(versions)


def frontend_dist() -> Path:
    """The SPA's production build (``npm ci`` then ``vite build``), for one site with the API at /api/v1."""
    with _lock("frontend"):
        dist = _app_cache() / f"frontend-{source_key()}" / "dist"
        if (dist / "index.html").is_file():
            return dist
        work = _app_cache() / f"frontend-{source_key()}.work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(
            source().frontend, work, ignore=shutil.ignore_patterns("node_modules", "dist", ".env", ".env.local")
        )
        log = logs_dir() / "build-clipper-frontend.log"
        log.write_text(f"building the frontend from {source().origin}\n")
        env = {
            **os.environ,
            "npm_config_cache": str(cache_root() / "npm"),
            "npm_config_update_notifier": "false",
            "NODE_ENV": "production",
            "VITE_API_BASE_URL": VITE_API_BASE_URL,
        }
        started = time.monotonic()
        _progress(f"building the frontend (npm ci, vite build; log: {log})")
        # NODE_ENV=production would make npm ci skip the build tools (devDependencies).
        run_logged(["npm", "ci", "--no-audit", "--no-fund", "--include=dev"], work, log, env, "npm ci")
        run_logged(["npm", "run", "build"], work, log, env, "vite build")
        dist.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dist, ignore_errors=True)
        (work / "dist").rename(dist)
        shutil.rmtree(work, ignore_errors=True)
        _progress(f"built the frontend in {time.monotonic() - started:.0f} s")
        return dist


def build_all() -> dict[str, Path]:
    return {
        "backend": backend_binary(),
        "migrate": migrate_binary(),
        "migrations": migrations_dir(),
        "frontend": frontend_dist(),
    }
