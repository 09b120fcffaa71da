"""Chart releases: every chart whose packaged content changed carries a greater version than its
committed record (ct lint's rule, without a target branch), every version has a changelog entry,
and `helm-mgmt package --record` keeps both true, refusing a chart that was not bumped."""

from __future__ import annotations

import datetime
import gzip
import io
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from chartcopy import clone, released_copy, set_version

from helm_mgmt.charts import _tgz_files, load_charts, sync_dependencies
from helm_mgmt.helm import Helm
from helm_mgmt.releases import (
    AMEND_COMMAND,
    RECORD_COMMAND,
    ReleaseError,
    changelog_entries,
    changelog_with_release,
    chart_states,
    content_digest,
    load_record,
    new_changelog,
    packaged_files,
    record,
    save_record,
    semver_key,
)

CHARTS = load_charts()
DAY = datetime.date(2031, 1, 2)


def no_sync(*_args: object) -> list[Path]:
    return []


# --- the rule, on the checkout itself -------------------------------------------------------------


@pytest.mark.parametrize("state", chart_states(CHARTS), ids=lambda s: s.name)
def test_a_changed_chart_has_a_greater_version_than_its_release_record(state):
    assert state.problem() is None, state.problem()


def test_the_release_record_names_only_charts_that_exist():
    extra = sorted(set(load_record()) - set(CHARTS))
    assert not extra, f"helm/released.json records charts that are gone: {extra}; remove them from it"


@pytest.mark.parametrize("chart", CHARTS.values(), ids=lambda c: c.name)
def test_every_chart_version_has_a_dated_changelog_entry(chart):
    path = chart.path / "CHANGELOG.md"
    assert path.is_file(), f"{chart.name} has no CHANGELOG.md: run `{RECORD_COMMAND}`"
    entries = changelog_entries(path.read_text())
    assert chart.version in entries, (
        f"{chart.name}/CHANGELOG.md has no entry for {chart.version}: run `{RECORD_COMMAND}`"
    )
    date, body = entries[chart.version]
    assert date and body, f"{chart.name}/CHANGELOG.md: the {chart.version} entry needs a date and what changed"
    released = [v for v in entries if v != "Unreleased"]
    assert released == sorted(released, key=semver_key, reverse=True), f"{chart.name}: entries not newest first"


# --- semantic versions ------------------------------------------------------------------------------

ORDERED = [
    "0.9.9",
    "0.10.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
]


def test_versions_order_by_semver_precedence():
    assert sorted(reversed(ORDERED), key=semver_key) == ORDERED
    assert semver_key("1.0.0+build.7") == semver_key("1.0.0")


@pytest.mark.parametrize("bad", ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", ""])
def test_a_version_that_is_not_semver_is_refused(bad):
    with pytest.raises(ValueError, match="not a semantic version"):
        semver_key(bad)


# --- what the digest covers ---------------------------------------------------------------------------

IGNORE_CASES = {
    ".helmignore": "# comment\n*.bak\ndocs/\n/top-only.txt\ntemplates/*.skip\nsecret?.txt\n[ab].md\nREADME.md.gotmpl\n",
    "Chart.yaml": "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    "values.yaml": "a: 1\n",
    "README.md": "kept\n",
    "README.md.gotmpl": "ignored\n",
    "a.md": "ignored by a class\n",
    "c.md": "kept\n",
    "old.bak": "ignored\n",
    "docs/guide.txt": "ignored with its folder\n",
    "top-only.txt": "ignored at the top\n",
    "files/top-only.txt": "kept below the top\n",
    "secret1.txt": "ignored\n",
    "secret10.txt": "kept: ? is one character\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    "templates/x.skip": "ignored\n",
    "templates/sub/y.skip": "kept: * does not cross /\n",
    "templates/.hidden.yaml": "ignored by Helm's default rule\n",
    "files/.hidden": "kept: the default rule is for templates/ only\n",
}


def helm_packs(chart_dir: Path, dest: Path) -> set[str]:
    """The files `helm package` writes, relative to the chart (dependency folders as they are packed)."""
    Helm("helm4").run(["package", str(chart_dir), "--destination", str(dest)])
    [archive] = dest.glob("*.tgz")
    with tarfile.open(archive) as tar:
        return {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}


def ours_expanded(chart_dir: Path) -> set[str]:
    """packaged_files, with each dependency archive (nested ones too) replaced by the files inside
    it: Helm packs a dependency as a folder named after the chart."""
    found = set()
    for rel in packaged_files(chart_dir):
        if rel.startswith("charts/") and rel.endswith(".tgz"):
            inside = _tgz_files((chart_dir / rel).read_bytes())
            found |= {re.sub(r"[^/!]+\.tgz!", "", f"{rel}!{name}") for name in inside}
        else:
            found.add(rel)
    return found


@pytest.mark.helm
def test_helmignore_rules_select_what_helm_package_packs(tmp_path):
    chart = tmp_path / "probe"
    for rel, text in IGNORE_CASES.items():
        (chart / rel).parent.mkdir(parents=True, exist_ok=True)
        (chart / rel).write_text(text)
    expected = {rel for rel, text in IGNORE_CASES.items() if not text.startswith("ignored")}
    assert set(packaged_files(chart)) == expected
    assert helm_packs(chart, tmp_path / "dist") == expected


@pytest.mark.helm
@pytest.mark.parametrize("chart", CHARTS.values(), ids=lambda c: c.name)
def test_the_digest_covers_exactly_what_helm_package_packs(chart, tmp_path):
    assert ours_expanded(chart.path) == helm_packs(chart.path, tmp_path)


def test_the_digest_follows_packaged_files_only(tmp_path):
    chart = tmp_path / "redis"
    shutil.copytree(CHARTS["redis"].path, chart)
    before = content_digest(chart)
    (chart / "README.md.gotmpl").write_text("not packaged\n")
    assert content_digest(chart) == before
    readme = chart / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    assert content_digest(chart) != before


def repack_with_new_timestamps(archive: Path) -> None:
    """Rewrite a chart archive with the same files but other modification times, as a rebuild does."""
    out = io.BytesIO()
    with tarfile.open(archive) as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old.getmembers():
            member.mtime += 3600
            new.addfile(member, old.extractfile(member) if member.isfile() else None)
    archive.write_bytes(gzip.compress(out.getvalue(), mtime=0))


def test_a_rebuilt_dependency_archive_with_the_same_content_keeps_the_digest(tmp_path):
    chart = tmp_path / "redis"
    shutil.copytree(CHARTS["redis"].path, chart)
    archive = next((chart / "charts").glob("*.tgz"))
    before, old_bytes = content_digest(chart), archive.read_bytes()
    repack_with_new_timestamps(archive)
    assert archive.read_bytes() != old_bytes
    assert content_digest(chart) == before


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_copy(tmp_path_factory.mktemp("released"))


@pytest.mark.helm
def test_a_library_change_changes_every_chart_that_packages_it(released, tmp_path):
    charts = clone(released, tmp_path)
    helper = charts / "clipper-common" / "templates" / "_labels.tpl"
    helper.write_text(helper.read_text() + "\n{{/* a change to the library */}}\n")
    sync_dependencies(None, load_charts(charts))
    states = chart_states(load_charts(charts), load_record(charts.parent / "released.json"))
    changed = {s.name for s in states if s.changed}
    assert changed == {"clipper-common", "backend", "frontend", "postgres", "redis", "clipper"}
    for state in states:
        if state.changed:
            assert f"chart {state.name} changed since {state.recorded_version}" in state.problem()


def test_the_failure_says_which_command_fixes_it():
    from helm_mgmt.releases import ChartState

    problem = ChartState("backend", "0.1.0", "sha256:new", "0.1.0", "sha256:old").problem()
    assert "helm/charts/backend/Chart.yaml" in problem and RECORD_COMMAND in problem and AMEND_COMMAND in problem
    lowered = ChartState("backend", "0.0.9", "sha256:new", "0.1.0", "sha256:old").problem()
    assert "its version is 0.0.9" in lowered
    bumped = ChartState("backend", "0.2.0", "sha256:new", "0.1.0", "sha256:old").problem()
    assert "bumped to 0.2.0 but not recorded" in bumped and RECORD_COMMAND in bumped


# --- changelogs -----------------------------------------------------------------------------------------


def test_a_release_moves_the_unreleased_notes_into_a_dated_entry():
    text = new_changelog("redis").replace("## [Unreleased]\n", "## [Unreleased]\n### Fixed\n- a fix\n")
    text = changelog_with_release(text, "redis", "0.1.0", "2026-12-01")
    text = changelog_with_release(text, "redis", "0.2.0", "2026-12-03", ["a note"])
    entries = changelog_entries(text)
    assert list(entries) == ["Unreleased", "0.2.0", "0.1.0"]
    assert entries["Unreleased"] == (None, "")
    assert entries["0.1.0"] == ("2026-12-01", "### Fixed\n- a fix")
    assert entries["0.2.0"] == ("2026-12-03", "### Changed\n- a note")
    assert text.startswith("# Changelog\n")


def test_notes_join_an_existing_changed_section_and_an_amended_entry_keeps_its_date():
    text = new_changelog("redis").replace("## [Unreleased]\n", "## [Unreleased]\n### Changed\n- one\n")
    text = changelog_with_release(text, "redis", "0.1.0", "2026-12-01", ["two"])
    assert changelog_entries(text)["0.1.0"][1] == "### Changed\n- two\n- one"
    text = changelog_with_release(text, "redis", "0.1.0", "2026-12-09", ["three"])
    assert changelog_entries(text)["0.1.0"] == ("2026-12-01", "### Changed\n- three\n- two\n- one")


def test_a_release_without_notes_is_refused():
    with pytest.raises(ReleaseError, match=r"redis 0\.2\.0: nothing to put .* --note"):
        changelog_with_release(new_changelog("redis"), "redis", "0.2.0", "2026-12-03")


def version_of(chart_dir: Path) -> str:
    return yaml.safe_load((chart_dir / "Chart.yaml").read_text())["version"]


# --- recording --------------------------------------------------------------------------------------------


def test_recording_refuses_a_changed_chart_that_was_not_bumped_and_writes_nothing(released, tmp_path):
    charts = clone(released, tmp_path)
    values = charts / "redis" / "values.yaml"
    values.write_text(values.read_text() + "# a change\n")
    record_file, changelog = charts.parent / "released.json", charts / "redis" / "CHANGELOG.md"
    before = (record_file.read_text(), changelog.read_text() if changelog.exists() else None)
    with pytest.raises(ReleaseError) as err:
        record(charts_root=charts, notes=["x"], today=DAY, sync=no_sync)
    assert f"chart redis {version_of(charts / 'redis')} is not recorded" in str(err.value)
    assert "helm/charts/redis/Chart.yaml" in str(err.value) and "--amend" in str(err.value)
    assert (record_file.read_text(), changelog.read_text() if changelog.exists() else None) == before


def test_recording_a_lower_version_is_refused_even_with_amend(released, tmp_path):
    charts = clone(released, tmp_path)
    set_version(charts / "redis", "0.0.9")
    with pytest.raises(ReleaseError, match="chart redis 0.0.9 is not recorded"):
        record(charts_root=charts, notes=["x"], amend=True, today=DAY, sync=no_sync)


def test_amend_records_a_change_under_the_same_version(released, tmp_path):
    charts = clone(released, tmp_path)
    values, changelog = charts / "redis" / "values.yaml", charts / "redis" / "CHANGELOG.md"
    values.write_text(values.read_text() + "# a change\n")
    earlier = changelog_entries(changelog.read_text()) if changelog.exists() else {}
    version = version_of(charts / "redis")
    lines = record(charts_root=charts, notes=["fixed a comment"], amend=True, today=DAY, sync=no_sync)
    assert [line.split(" (")[0] for line in lines] == [f"redis {version} amended"]
    states = {s.name: s for s in chart_states(load_charts(charts), load_record(charts.parent / "released.json"))}
    assert not states["redis"].changed and states["redis"].recorded_version == version
    date, body = changelog_entries(changelog.read_text())[version]
    assert date == earlier.get(version, (DAY.isoformat(),))[0] and "- fixed a comment" in body
    assert record(charts_root=charts, sync=no_sync) == ["every chart matches its release record: nothing to record"]


def test_a_chart_that_is_gone_leaves_the_record(released, tmp_path):
    charts = clone(released, tmp_path)
    record_file = charts.parent / "released.json"
    saved = load_record(record_file)
    save_record({**saved, "old-chart": {"version": "1.0.0", "digest": "sha256:0"}}, record_file)
    assert record(charts_root=charts, sync=no_sync) == ["old-chart removed from the record: there is no such chart"]
    assert load_record(record_file) == saved


def bump(version: str, part: int) -> str:
    """The version with its major (0), minor (1) or patch (2) raised, lower parts zeroed."""
    numbers = [int(n) for n in version.split("-")[0].split(".")]
    numbers[part] += 1
    return ".".join(str(n if i <= part else 0) for i, n in enumerate(numbers))


@pytest.mark.helm
def test_a_bumped_leaf_and_its_umbrella_are_recorded_with_changelog_entries(released, tmp_path):
    charts = clone(released, tmp_path)
    values = charts / "redis" / "values.yaml"
    values.write_text(values.read_text() + "# a change\n")
    current = {name: chart.version for name, chart in load_charts(charts).items()}
    redis, umbrella = bump(current["redis"], 2), bump(current["clipper"], 1)
    note = f"redis {redis}"
    set_version(charts / "redis", redis)
    set_version(charts / "clipper", current["clipper"], {"redis": redis})
    with pytest.raises(ReleaseError, match=rf"chart clipper {re.escape(current['clipper'])} is not recorded") as err:
        record(charts_root=charts, notes=[note], today=DAY)
    assert "chart redis" not in str(err.value)
    set_version(charts / "clipper", umbrella, {"redis": redis})
    lines = record(charts_root=charts, notes=[note], today=DAY)
    assert [line.split(" (")[0] for line in lines] == [f"redis {redis} recorded", f"clipper {umbrella} recorded"]
    saved = load_record(charts.parent / "released.json")
    assert (saved["redis"]["version"], saved["clipper"]["version"]) == (redis, umbrella)
    assert not [s for s in chart_states(load_charts(charts), saved) if s.changed]
    for chart, version in (("redis", redis), ("clipper", umbrella)):
        entries = changelog_entries((charts / chart / "CHANGELOG.md").read_text())
        assert entries[version] == (DAY.isoformat(), f"### Changed\n- {note}")
    # The umbrella packs the new redis, changelog included.
    inside = _tgz_files((charts / "clipper" / "charts" / f"redis-{redis}.tgz").read_bytes())
    assert f"## [{redis}] - {DAY.isoformat()}" in inside["redis/CHANGELOG.md"].decode()
