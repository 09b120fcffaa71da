"""Every chart rendered once per value set (default, staging, production, local), shared by the
matrix tests so that a render is computed once per session."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from helm_mgmt.charts import application_charts
from helm_mgmt.helm import Helm, parse_manifests


@dataclass(frozen=True)
class RenderCase:
    chart: str
    env: str
    values_file: Path | None

    @property
    def id(self) -> str:
        return f"{self.chart}-{self.env}"


def render_cases() -> list[RenderCase]:
    cases = []
    for chart in application_charts():
        for env, values_file in chart.example_values().items():
            cases.append(RenderCase(chart.name, env, values_file))
        local = chart.path / "examples" / "values-local.yaml"
        if local.is_file():
            cases.append(RenderCase(chart.name, "local", local))
    return cases


@cache
def rendered_text(case: RenderCase) -> str:
    chart = next(c for c in application_charts() if c.name == case.chart)
    files = [case.values_file] if case.values_file else []
    return Helm("helm4").template(chart.path, files, namespace="clipper")


def rendered_docs(case: RenderCase) -> list[dict]:
    return parse_manifests(rendered_text(case))
