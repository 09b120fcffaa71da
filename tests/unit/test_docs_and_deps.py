"""Generated artefacts that are committed must match their sources: chart READMEs (helm-docs,
every value documented) and the packaged file:// dependencies."""

from __future__ import annotations

import difflib

import pytest

from helm_mgmt.charts import application_charts, stale_dependencies
from helm_mgmt.docs import expected_readme, undocumented_keys


@pytest.mark.helm
@pytest.mark.parametrize("chart", application_charts(), ids=lambda c: c.name)
def test_readme_matches_values_comments(chart):
    committed = (chart.path / "README.md").read_text()
    fresh = expected_readme(chart)
    diff = "".join(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True), "committed", "generated"))
    assert not diff, f"{chart.name}/README.md is out of date; run `helm-mgmt docs`:\n{diff[:3000]}"


@pytest.mark.parametrize("chart", application_charts(), ids=lambda c: c.name)
def test_every_value_has_a_doc_comment(chart):
    missing = undocumented_keys(chart.path / "values.yaml")
    assert not missing, f"{chart.name}/values.yaml keys without a `# --` comment: {missing}"


def test_undocumented_key_detection(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(
        "# -- documented map\nconfig:\n  a: 1\nimage:\n  # -- the tag\n  tag: x\n  repository: y\nlist:\n  - a: 1\n"
    )
    assert undocumented_keys(values) == ["image.repository", "list"]


@pytest.mark.helm
def test_committed_dependency_archives_match_sources():
    stale = stale_dependencies()
    assert not stale, f"stale dependency archives {stale}: run `helm-mgmt deps` and commit"
