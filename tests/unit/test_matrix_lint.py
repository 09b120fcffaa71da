"""helm lint --strict for every chart and value set, on the oldest supported Helm 3, the latest
Helm 3 and the latest Helm 4."""

from __future__ import annotations

import pytest

from helm_mgmt.charts import application_charts
from helm_mgmt.helm import Helm
from helm_mgmt.toolchain import HELM_RELEASES

CASES = [
    pytest.param(key, chart, env, values, id=f"{key}-{chart.name}-{env}")
    for key in HELM_RELEASES
    for chart in application_charts()
    for env, values in chart.example_values().items()
]


@pytest.mark.helm
@pytest.mark.parametrize(("helm_key", "chart", "env", "values"), CASES)
def test_lint_strict(helm_key, chart, env, values):
    proc = Helm(helm_key).lint(chart.path, [values] if values else [])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[ERROR]" not in proc.stdout
    assert "[WARNING]" not in proc.stdout, proc.stdout


@pytest.mark.helm
def test_every_chart_has_staging_and_production_examples():
    missing = [
        f"{c.name}: {sorted({'staging', 'production'} - set(c.example_values()))}"
        for c in application_charts()
        if {"staging", "production"} - set(c.example_values())
    ]
    assert not missing, missing
