"""The charts of this repository and their file:// dependencies.

Packaged dependencies (``charts/*.tgz`` and ``Chart.lock``) are committed so that
``helm install clipper helm/charts/clipper`` works straight from a clone. ``sync_dependencies``
rebuilds them leaf-first and rewrites a tgz only when its content changed, so unchanged charts
do not churn in git; ``stale_dependencies`` tells which committed archives no longer match their
source.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from helm_mgmt.helm import Helm
from helm_mgmt.paths import CHARTS_DIR


@dataclass(frozen=True)
class Chart:
    path: Path
    meta: dict

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def is_library(self) -> bool:
        return self.meta.get("type") == "library"

    @property
    def local_dependencies(self) -> list[str]:
        return [d["name"] for d in self.meta.get("dependencies", []) if d.get("repository", "").startswith("file://")]

    def example_values(self) -> dict[str, Path | None]:
        """Named value-file sets to render with: the chart's defaults (plus, for a chart that needs
        one, the few values a user must give, from examples/values-minimal.yaml), staging, production."""
        minimal = self.path / "examples" / "values-minimal.yaml"
        sets: dict[str, Path | None] = {"minimal": minimal} if minimal.is_file() else {"default": None}
        for env in ("staging", "production"):
            f = self.path / "examples" / f"values-{env}.yaml"
            if f.is_file():
                sets[env] = f
        return sets


def load_charts(root: Path = CHARTS_DIR) -> dict[str, Chart]:
    charts = {}
    for chart_yaml in sorted(root.glob("*/Chart.yaml")):
        meta = yaml.safe_load(chart_yaml.read_text())
        charts[meta["name"]] = Chart(chart_yaml.parent, meta)
    return charts


def dependency_order(charts: dict[str, Chart]) -> list[Chart]:
    """Charts sorted so that every chart comes after the local charts it depends on."""
    ordered: list[Chart] = []
    seen: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            raise ValueError(f"dependency cycle: {' -> '.join((*trail, name))}")
        if name in seen:
            return
        if name not in charts:
            raise ValueError(f"chart {trail[-1]} depends on {name}, which is not in {CHARTS_DIR}")
        for dep in charts[name].local_dependencies:
            visit(dep, (*trail, name))
        seen.add(name)
        ordered.append(charts[name])

    for name in charts:
        visit(name, ())
    return ordered


def application_charts(charts: dict[str, Chart] | None = None) -> list[Chart]:
    """Installable charts (library charts excluded), leaf-first."""
    return [c for c in dependency_order(charts or load_charts()) if not c.is_library]


def _tgz_files(data: bytes) -> dict[str, bytes]:
    """File contents of a chart archive; nested archives are expanded, since their bytes carry
    build timestamps while their content is what matters."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            content = extracted.read()
            if member.name.endswith(".tgz"):
                files.update({f"{member.name}!{k}": v for k, v in _tgz_files(content).items()})
            else:
                files[member.name] = content
    return files


def _rebuild_in_copy(chart: Chart, helm: Helm) -> Path:
    """Run `helm dependency update` on a scratch copy; return the copy's charts/ dir."""
    scratch = Path(tempfile.mkdtemp(prefix=f"deps-{chart.name}-"))
    # Copy the sibling charts as well so that file://../<dep> resolves inside the scratch tree.
    for sibling in chart.path.parent.iterdir():
        if (sibling / "Chart.yaml").is_file():
            shutil.copytree(sibling, scratch / sibling.name, symlinks=True)
    helm.run(["dependency", "update", "--skip-refresh", str(scratch / chart.path.name)])
    return scratch / chart.path.name


def sync_dependencies(helm: Helm | None = None, charts: dict[str, Chart] | None = None) -> list[Path]:
    """Rebuild charts/*.tgz and Chart.lock leaf-first; return the files that changed."""
    helm = helm or Helm()
    changed: list[Path] = []
    for chart in dependency_order(charts or load_charts()):
        if not chart.local_dependencies:
            continue
        copy = _rebuild_in_copy(chart, helm)
        try:
            changed += _adopt(copy, chart.path)
        finally:
            shutil.rmtree(copy.parent, ignore_errors=True)
    return changed


def _adopt(copy: Path, target: Path) -> list[Path]:
    changed = []
    (target / "charts").mkdir(exist_ok=True)
    fresh = {p.name: p for p in (copy / "charts").glob("*.tgz")}
    for old in (target / "charts").glob("*.tgz"):
        if old.name not in fresh:
            old.unlink()
            changed.append(old)
    for name, new in fresh.items():
        dest = target / "charts" / name
        if not dest.exists() or _tgz_files(dest.read_bytes()) != _tgz_files(new.read_bytes()):
            shutil.copyfile(new, dest)
            changed.append(dest)
    lock_new = yaml.safe_load((copy / "Chart.lock").read_text())
    lock_path = target / "Chart.lock"
    lock_old = yaml.safe_load(lock_path.read_text()) if lock_path.exists() else None
    if lock_old is None or lock_old.get("dependencies") != lock_new.get("dependencies"):
        shutil.copyfile(copy / "Chart.lock", lock_path)
        changed.append(lock_path)
    return changed


def stale_dependencies(helm: Helm | None = None, charts: dict[str, Chart] | None = None) -> list[str]:
    """Committed dependency archives whose content differs from what their source builds now."""
    helm = helm or Helm()
    stale: list[str] = []
    for chart in dependency_order(charts or load_charts()):
        if not chart.local_dependencies:
            continue
        copy = _rebuild_in_copy(chart, helm)
        try:
            fresh = {p.name: _tgz_files(p.read_bytes()) for p in (copy / "charts").glob("*.tgz")}
            have = {p.name: _tgz_files(p.read_bytes()) for p in (chart.path / "charts").glob("*.tgz")}
            for name in sorted(set(fresh) | set(have)):
                if fresh.get(name) != have.get(name):
                    stale.append(f"{chart.name}/charts/{name}")
        finally:
            shutil.rmtree(copy.parent, ignore_errors=True)
    return stale
