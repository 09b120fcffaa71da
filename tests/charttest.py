"""Shared helpers: rendering charts with the pinned Helm and finding objects in the output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helm_mgmt.charts import load_charts
from helm_mgmt.helm import Helm, HelmError, parse_manifests
from helm_mgmt.paths import CHARTS_DIR

CHARTS = load_charts()
APP_CHARTS = sorted(name for name, chart in CHARTS.items() if not chart.is_library)


def chart_path(chart: str) -> Path:
    return CHARTS_DIR / chart


def example(chart: str, env: str) -> Path:
    return chart_path(chart) / "examples" / f"values-{env}.yaml"


def render(
    chart: str,
    values: dict[str, Any] | None = None,
    env: str | None = None,
    release: str = "clipper",
    namespace: str = "clipper",
    helm: str = "helm4",
    kube_version: str | None = None,
) -> list[dict[str, Any]]:
    """Render a chart (optionally with examples/values-<env>.yaml, then `values`) to objects.

    Helm 3.12 assumes Kubernetes 1.27 offline, below the charts' kubeVersion floor, so it renders
    for 1.29 unless told otherwise (against a cluster Helm uses the server's version)."""
    if kube_version is None and helm == "helm3-oldest":
        kube_version = "1.29.0"
    files = [example(chart, env)] if env else []
    text = Helm(helm).template(
        chart_path(chart), files, values, release=release, namespace=namespace, kube_version=kube_version
    )
    return parse_manifests(text)


def render_error(
    chart: str, values: dict[str, Any] | None = None, env: str | None = None, helm: str = "helm4"
) -> str:
    """Render expecting failure; return Helm's error text. Fails the test if rendering succeeds."""
    try:
        render(chart, values, env=env, helm=helm)
    except HelmError as err:
        return err.stderr
    pytest.fail(f"{chart} rendered although the values were invalid: {values}")


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, (
        f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in matches]}"
    )
    return matches[0]


def find_all(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def container(pod_spec: dict[str, Any], name: str) -> dict[str, Any]:
    for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name} in {[c['name'] for c in pod_spec.get('containers', [])]}")


def env_map(c: dict[str, Any]) -> dict[str, Any]:
    """Container env as name -> value (or the valueFrom mapping); duplicates fail the test."""
    names = [e["name"] for e in c.get("env", [])]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate env names {dupes} in container {c['name']}"
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}
