"""Shared helpers: rendering charts with the pinned Helm and finding objects in the output."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from helm_mgmt.charts import load_charts
from helm_mgmt.helm import Helm, HelmError, parse_manifests
from helm_mgmt.paths import CHARTS_DIR

CHARTS = load_charts()
APP_CHARTS = sorted(name for name, chart in CHARTS.items() if not chart.is_library)
# The charts' kubeVersion floor. Offline, Helm 3.12 assumes Kubernetes 1.27, which the charts refuse.
KUBE_FLOOR = "1.29.0"
# Bad values are tried on the newest Helm and on the oldest supported one: their schema messages differ.
BAD_VALUES_HELMS = ["helm4", "helm3-oldest"]
# A bad-values case: (id, values, fragments that must all appear in the error message).
BadValuesCase = tuple[str, dict[str, Any], list[str]]


def chart_label(chart: str) -> str:
    """The helm.sh/chart label value: name-version from the chart's Chart.yaml."""
    return f"{chart}-{CHARTS[chart].meta['version']}"


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
    """Render a chart (with examples/values-<env>.yaml, or else the chart's minimal values, then
    `values`) to objects.

    The minimal values (examples/values-minimal.yaml) are the few a user must give, e.g. a backend
    image that runs as non-root: without them such a chart refuses to render.
    Helm 3.12 assumes Kubernetes 1.27 offline, below the charts' kubeVersion floor, so it renders
    for 1.29 unless told otherwise (against a cluster Helm uses the server's version)."""
    if kube_version is None and helm == "helm3-oldest":
        kube_version = KUBE_FLOOR
    files = [example(chart, env or "minimal")] if env or example(chart, "minimal").is_file() else []
    text = Helm(helm).template(
        chart_path(chart), files, values, release=release, namespace=namespace, kube_version=kube_version
    )
    return parse_manifests(text)


def render_error(
    chart: str,
    values: dict[str, Any] | None = None,
    env: str | None = None,
    helm: str = "helm4",
    kube_version: str | None = None,
) -> str:
    """Render expecting failure; return Helm's error text. Fails the test if rendering succeeds."""
    try:
        render(chart, values, env=env, helm=helm, kube_version=kube_version)
    except HelmError as err:
        return err.stderr
    pytest.fail(f"{chart} rendered although the values were invalid: {values}")


def bad_values_params(cases: list[BadValuesCase]) -> list[Any]:
    """The cases as pytest parameters (values, fragments), each with its id."""
    return [pytest.param(values, fragments, id=case_id) for case_id, values, fragments in cases]


def assert_refused(chart: str, values: dict[str, Any], fragments: list[str], helm: str) -> None:
    """Rendering `values` (for the lowest supported Kubernetes) fails with a message that contains
    every fragment: the name of the bad value and, for template checks, how to fix it."""
    message = render_error(chart, values, helm=helm, kube_version=KUBE_FLOOR)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in:\n{message}"


def selector(name: str, component: str | None = None, instance: str = "clipper") -> dict[str, str]:
    """The selector labels of a chart's pods: name and instance, and the component where there is one."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}
    if component is not None:
        labels["app.kubernetes.io/component"] = component
    return labels


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in matches]}"
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exporter_required_cases() -> list[BadValuesCase]:
    """Refusals shared by every chart with an exporter sidecar (clipper-common.validateMonitoring):
    its ServiceMonitor, rules and dashboard need the exporter."""
    return [
        (
            f"{key.lower()}-without-exporter",
            {"metrics": {"enabled": False, key: {"enabled": True}}},
            [f"metrics.{key}.enabled needs metrics.enabled=true"],
        )
        for key in ("serviceMonitor", "prometheusRule", "dashboard")
    ]
