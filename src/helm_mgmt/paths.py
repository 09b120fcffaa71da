"""Where the project lives and where expensive build products are cached (outside the repo)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO_ROOT / "helm" / "charts"
DIST_DIR = REPO_ROOT / "dist"


def cache_root() -> Path:
    """The versioned build cache; CLIPPER_KIT_CACHE overrides the default under ~/.cache."""
    root = os.environ.get("CLIPPER_KIT_CACHE") or str(Path.home() / ".cache" / "clipper-kit")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = cache_root() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifacts_dir(name: str) -> Path:
    """Where a test run leaves files for people to look at (screenshots), outside the repository."""
    path = cache_root() / "artifacts" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing): processes that build the same cache
    entry at once (parallel test workers, `up` beside a test run) wait for each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
