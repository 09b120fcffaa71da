"""The Grafana dashboards the charts ship: each ConfigMap holds a dashboard that Grafana's own
model (grafana-foundation-sdk) loads, with Prometheus queries only, and every query parses with
Prometheus' parser (promtool, each query as a recording rule, Grafana's variables filled in)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from charttest import render
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models import dashboard, prometheus
from grafanavars import fill

from helm_mgmt.toolchain import ensure_promtool

plugins.register_default_plugins()

# Values that make each chart ship its dashboard.
DASHBOARDS: dict[str, dict] = {
    "backend": {"metrics": {"dashboard": {"enabled": True}}},
    "postgres": {"metrics": {"enabled": True, "dashboard": {"enabled": True}}},
    "redis": {"metrics": {"enabled": True, "dashboard": {"enabled": True}}},
    "frontend": {"metrics": {"enabled": True, "dashboard": {"enabled": True}}},
}


def shipped(chart: str) -> tuple[dict, dict]:
    """The dashboard ConfigMap of the chart (release clipper, namespace clipper) and its JSON."""
    maps = [
        d
        for d in render(chart, DASHBOARDS[chart])
        if d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert len(maps) == 1, f"{chart} rendered {len(maps)} dashboard ConfigMaps"
    ((name, text),) = maps[0]["data"].items()
    assert name.endswith(".json")
    return maps[0], json.loads(text)


def queries(model: dashboard.Dashboard) -> list[str]:
    found = []
    for panel in model.panels or []:
        for target in panel.targets or []:
            assert isinstance(target, prometheus.Dataquery), f"panel {panel.title!r}: {type(target).__name__}"
            assert target.expr, f"panel {panel.title!r} has an empty query"
            found.append(target.expr)
    return found


@pytest.mark.helm
@pytest.mark.parametrize("chart", sorted(DASHBOARDS))
def test_dashboard_loads_in_grafanas_model(chart: str) -> None:
    config_map, raw = shipped(chart)
    model = dashboard.Dashboard.from_json(raw)
    assert model.uid == f"clipper-{chart}-clipper"
    assert model.title and "CLIPPER_" not in json.dumps(raw), "a placeholder was left in the dashboard"
    assert len(model.panels or []) == len(raw["panels"]) >= 4
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    exprs = queries(model)
    assert all('namespace="clipper"' in e for e in exprs), "every query is scoped to the release's namespace"


@pytest.mark.helm
@pytest.mark.parametrize("chart", sorted(DASHBOARDS))
def test_every_query_parses(chart: str, tmp_path: Path) -> None:
    _, raw = shipped(chart)
    exprs = [fill(e) for e in queries(dashboard.Dashboard.from_json(raw))]
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    check = subprocess.run(
        [str(ensure_promtool()), "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{len(exprs)} rules found" in check.stdout


@pytest.mark.helm
def test_a_broken_query_is_caught(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": "dashboard:broken", "expr": "sum(rate(x[5m])"}]}]}
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    check = subprocess.run(
        [str(ensure_promtool()), "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode != 0
