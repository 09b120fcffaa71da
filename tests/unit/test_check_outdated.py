"""`helm-mgmt check` reports what is outdated, offline and without a cluster: stale dependency
archives, charts changed without a recorded version bump, and vendored charts with a newer archive
in the vendor folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chartcopy import clone, released_copy

from helm_mgmt import check
from helm_mgmt.helm import Helm

pytestmark = pytest.mark.helm


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_copy(tmp_path_factory.mktemp("released"))


def vendor_folder(path: Path, charts_root: Path, *extra: str) -> Path:
    """A vendor folder offering the monitoring chart's vendored archives, plus the ``extra`` ones."""
    path.mkdir()
    for archive in (charts_root / "monitoring" / "charts").glob("*.tgz"):
        (path / archive.name).write_bytes(b"")
    for name in extra:
        (path / name).write_bytes(b"")
    (path / "README.md").write_text("not an archive\n")
    return path


def test_a_consistent_checkout_has_nothing_outdated(released, tmp_path):
    charts = clone(released, tmp_path)
    result = check.outdated(charts, vendor=vendor_folder(tmp_path / "vendor", charts))
    assert result == {"items": [], "not_checked": []}
    assert check.render_outdated(result) == ["outdated: nothing"]


def test_a_library_change_is_reported_as_stale_archives_and_unreleased_charts(released, tmp_path):
    charts = clone(released, tmp_path)
    helper = charts / "clipper-common" / "templates" / "_names.tpl"
    helper.write_text(helper.read_text() + "\n{{/* changed */}}\n")
    library = yaml.safe_load((charts / "clipper-common" / "Chart.yaml").read_text())["version"]
    result = check.outdated(charts, vendor=vendor_folder(tmp_path / "vendor", charts))
    stale = {o["item"] for o in result["items"] if o["kind"] == "dependency archive"}
    users = ("backend", "frontend", "postgres", "redis", "clipper")
    assert stale == {f"{chart}/charts/clipper-common-{library}.tgz" for chart in users}
    # Until the archives are rebuilt, only the library itself differs from its record.
    releases = [o for o in result["items"] if o["kind"] == "release"]
    assert [o["item"] for o in releases] == ["clipper-common"]
    assert "raise `version` in helm/charts/clipper-common/Chart.yaml" in releases[0]["detail"]
    human = "\n".join(check.render_outdated(result))
    assert f"dependency archive backend/charts/clipper-common-{library}.tgz: run `helm-mgmt deps`" in human
    assert f"release: chart clipper-common changed since {library}" in human


def test_a_newer_vendored_chart_is_reported_with_where_it_is(released, tmp_path):
    charts = clone(released, tmp_path)
    extra = ["loki-18.10.0.tgz", "loki-18.12.0.tgz", "loki-18.12.1-rc.1.tgz", "grafana-99.0.0.tgz"]
    [item] = check.outdated(charts, vendor=vendor_folder(tmp_path / "vendor", charts, *extra))["items"]
    assert item == {
        "kind": "vendored chart",
        "item": "monitoring/charts/loki-18.11.0.tgz",
        "detail": f"18.12.1-rc.1 is in {tmp_path / 'vendor'}; vendor it and update monitoring/Chart.yaml",
    }


def test_what_cannot_be_checked_offline_is_said(released, tmp_path, monkeypatch):
    charts = clone(released, tmp_path)
    monkeypatch.setattr(check, "bin_dir", lambda *_: tmp_path / "no-helm-here")
    result = check.outdated(charts, vendor=tmp_path / "absent", helm=Helm("helm4"))
    assert result["items"] == []
    assert result["not_checked"] == [
        "dependency archives: Helm v4.3.1 is not built yet (`helm-mgmt check --install`)",
        f"vendored charts: no folder {tmp_path / 'absent'} (set {check.VENDOR_CHARTS_ENV})",
    ]
