"""Values the monitoring chart must refuse, each with a message naming the value (and, for the
template checks, the fix). Run on the newest Helm and on the oldest supported one."""

from __future__ import annotations

import pytest
from charttest import BAD_VALUES_HELMS, assert_refused, bad_values_params

GRAFANA_INGRESS = {"enabled": True, "ingressClassName": "nginx", "hosts": ["grafana.clpr.tv"]}

# (id, values, fragments every message must contain)
CASES = [
    ("unknown-key", {"prometheus": {"retention": "30d"}}, ["prometheus"]),
    ("unknown-nested-key", {"lokiDatasource": {"uri": "http://loki"}}, ["uri"]),
    ("loki-url-not-a-url", {"lokiDatasource": {"url": "loki:3100"}}, ["url"]),
    ("require-tls-not-boolean", {"grafanaIngress": {"requireTls": "yes"}}, ["requireTls"]),
    (
        "grafana-ingress-without-tls",
        {"kube-prometheus-stack": {"grafana": {"ingress": GRAFANA_INGRESS}}},
        ["kube-prometheus-stack.grafana.ingress.tls is empty", "grafanaIngress.requireTls=false"],
    ),
    (
        "grafana-password-in-values",
        {"kube-prometheus-stack": {"grafana": {"adminPassword": "hunter2"}}},
        ["kube-prometheus-stack.grafana.adminPassword is set", "admin.existingSecret"],
    ),
    (
        "loki-datasource-without-loki",
        {"loki": {"enabled": False}},
        ["lokiDatasource.enabled is true while loki.enabled is false", "lokiDatasource.url"],
    ),
    (
        "log-shipper-without-loki",
        {"loki": {"enabled": False}, "lokiDatasource": {"enabled": False}},
        ["logShipper.enabled is true while loki.enabled is false", "logShipper.lokiUrl"],
    ),
    ("log-shipper-url-not-a-url", {"logShipper": {"lokiUrl": "loki:3100/push"}}, ["lokiUrl"]),
    ("log-shipper-latest-tag", {"logShipper": {"image": {"tag": "latest"}}}, ["image", "tag"]),
    ("log-shipper-bad-namespace", {"logShipper": {"namespaces": ["Clipper_Prod"]}}, ["namespaces"]),
    ("log-shipper-bad-label-name", {"logShipper": {"externalLabels": {"my-cluster": "eu1"}}}, ["my-cluster"]),
    # The vendored loki chart's own schema.
    ("loki-replicas-not-a-number", {"loki": {"singleBinary": {"replicas": "one"}}}, ["replicas"]),
]


@pytest.mark.helm
def test_every_refusal_is_reported_at_once():
    """Several mistakes in one run: each is named, so a user fixes them all at once."""
    values = {
        "kube-prometheus-stack": {"grafana": {"ingress": GRAFANA_INGRESS, "adminPassword": "hunter2"}},
        "loki": {"enabled": False},
    }
    assert_refused(
        "monitoring",
        values,
        ["grafana.ingress.tls is empty", "grafana.adminPassword is set", "lokiDatasource.enabled is true"],
        "helm4",
    )


@pytest.mark.helm
@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_monitoring_refuses_bad_values(values, fragments, helm):
    assert_refused("monitoring", values, fragments, helm)
