"""One validation style in every chart: `templates/_validate.tpl` defines `<chart>.validate`,
`templates/validate.yaml` only includes it, and no other template or helper fails on values. The
only other failures allowed are the checks of the cluster's state, which need `lookup`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helm_mgmt.paths import REPO_ROOT

CHARTS = REPO_ROOT / "helm" / "charts"
APPLICATION_CHARTS = ["backend", "frontend", "postgres", "redis", "monitoring", "clipper"]
# Named templates that fail on the state of the cluster, read with `lookup` (a kept password whose
# key is gone, a layout that cannot be upgraded in place): not a mistake in the values.
STATE_CHECKS = {
    "backend.chartSecretData",
    "postgres.keptPassword",
    "postgres.refuseSuperuserLayout",
    "redis.secretPasswordB64",
}
FAIL = re.compile(r"\{\{-?\s*(?:fail|required)\b|\|\s*required\b|\(\s*required\b")
DEFINE = re.compile(r'\{\{-?\s*define\s+"([^"]+)"')


def failing_templates(path: Path) -> set[str]:
    """The named templates of a file that call fail or required ("<file>" for top-level code)."""
    found, current = set(), f"<{path.name}>"
    for line in path.read_text().splitlines():
        if match := DEFINE.search(line):
            current = match.group(1)
        if FAIL.search(line):
            found.add(current)
    return found


@pytest.mark.parametrize("chart", APPLICATION_CHARTS)
def test_each_chart_validates_in_its_validate_template(chart):
    templates = CHARTS / chart / "templates"
    assert f'define "{chart}.validate"' in (templates / "_validate.tpl").read_text()
    assert (templates / "validate.yaml").read_text().strip() == f'{{{{- include "{chart}.validate" . -}}}}'


@pytest.mark.parametrize("chart", [*APPLICATION_CHARTS, "clipper-common"])
def test_nothing_else_fails_on_values(chart):
    offenders = {}
    for path in sorted((CHARTS / chart / "templates").rglob("*")):
        if path.is_file() and path.suffix in {".tpl", ".yaml", ".txt"}:
            names = failing_templates(path) - STATE_CHECKS - {f"{chart}.validate", "clipper-common.failOnErrors"}
            if names:
                offenders[str(path.relative_to(CHARTS))] = sorted(names)
    assert not offenders, f"fail/required outside the chart's validate (add the check to _validate.tpl): {offenders}"


def test_the_state_checks_listed_here_exist():
    """The allowlist above must not outlive the templates it names."""
    defined = set()
    for path in CHARTS.glob("*/templates/*.tpl"):
        defined |= set(DEFINE.findall(path.read_text()))
    assert defined >= STATE_CHECKS, STATE_CHECKS - defined
