"""Scratch copies of the charts for tests that change them, so the checkout's own charts, dependency
archives and release record are never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from helm_mgmt.charts import load_charts, sync_dependencies
from helm_mgmt.paths import CHARTS_DIR
from helm_mgmt.releases import chart_states, save_record


def released_copy(dest: Path) -> Path:
    """A copy of helm/charts under ``dest`` with its dependency archives rebuilt and a release
    record that matches it (whatever state the checkout is in); returns the copy's charts folder."""
    root = dest / "helm" / "charts"
    shutil.copytree(CHARTS_DIR, root, symlinks=True)
    sync_dependencies(None, load_charts(root))
    states = chart_states(load_charts(root), {})
    save_record({s.name: {"version": s.version, "digest": s.digest} for s in states}, root.parent / "released.json")
    return root


def clone(released: Path, dest: Path) -> Path:
    """A further copy of a ``released_copy`` (its record included); returns its charts folder."""
    shutil.copytree(released.parent, dest / "helm", symlinks=True)
    return dest / "helm" / "charts"


def set_version(chart_dir: Path, version: str, dependency_versions: dict[str, str] | None = None) -> None:
    """Rewrite ``version`` (and the named dependencies' versions) in a copy's Chart.yaml."""
    path = chart_dir / "Chart.yaml"
    meta = yaml.safe_load(path.read_text())
    meta["version"] = version
    for dep in meta.get("dependencies", []):
        dep["version"] = (dependency_versions or {}).get(dep["name"], dep["version"])
    path.write_text(yaml.safe_dump(meta, sort_keys=False))
