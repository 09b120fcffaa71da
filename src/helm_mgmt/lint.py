"""`helm-mgmt lint`: helm lint --strict of every chart with each of its value sets, per Helm release."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from helm_mgmt.charts import application_charts
from helm_mgmt.helm import Helm
from helm_mgmt.toolchain import HELM_RELEASES


@dataclass
class LintResult:
    chart: str
    values: str
    helm: str
    ok: bool
    output: str


def lint_all(helm_keys: list[str] | None = None, charts: list[str] | None = None) -> list[LintResult]:
    results = []
    for key in helm_keys or list(HELM_RELEASES):
        helm = Helm(key)
        for chart in application_charts():
            if charts and chart.name not in charts:
                continue
            for env, values_file in chart.example_values().items():
                proc = helm.lint(chart.path, [values_file] if values_file else [])
                results.append(
                    LintResult(
                        chart.name,
                        env,
                        helm.version,
                        proc.returncode == 0,
                        (proc.stdout + proc.stderr).strip(),
                    )
                )
    return results


def as_json(results: list[LintResult]) -> dict:
    return {
        "results": [asdict(r) for r in results],
        "failed": sum(not r.ok for r in results),
        "total": len(results),
    }
