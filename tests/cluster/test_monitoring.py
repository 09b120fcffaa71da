"""The monitoring chart on the local cluster, for real: the Prometheus operator, Prometheus,
Alertmanager and kube-state-metrics (images built here), scraping a Clipper stack installed with
its ServiceMonitors, rules and dashboards (the real backend, with a token from
`helm-mgmt metrics-token`'s code, and the nginx, PostgreSQL and Redis exporters)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from grafanavars import fill
from stackenv import LOCAL_VALUES, RELEASE

from helm_mgmt.stack import (
    MONITORING_NAMESPACE,
    mint_metrics_token,
    restricted_namespace,
    wait_all_ready,
)

NAMESPACE = "clipper-monitored"
MONITORING_VALUES = LOCAL_VALUES.with_name("values-local-monitoring.yaml")
PROMETHEUS = "svc/monitoring-kube-prometheus-prometheus"
ALERTMANAGER = "svc/monitoring-kube-prometheus-alertmanager"
JOBS = {
    "backend": f"{RELEASE}-backend",
    "frontend": f"{RELEASE}-frontend-metrics",
    "postgres": f"{RELEASE}-postgres-metrics",
    "redis": f"{RELEASE}-redis-metrics",
}
# Panels that must show data on a live stack (the dashboard file, the panel title).
CORE_PANELS = [
    ("backend", "Request rate by status"),
    ("backend", "5xx ratio"),
    ("postgres", "Connections in use"),
    ("redis", "Memory used of maxmemory"),
    ("frontend", "Requests"),
]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=20) as resp:
        return json.loads(resp.read())


def query(base: str, expr: str, at: float | None = None) -> list[dict]:
    params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
    body = get_json(f"{base}/api/v1/query?{urllib.parse.urlencode(params)}")
    assert body["status"] == "success", body
    return body["data"]["result"]


def eventually(check, timeout: float, interval: float = 5.0):
    """Call ``check`` until it returns something truthy; return it, or fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(scope="module")
def monitored(stack, monitoring, helm, kubectl) -> Iterator[str]:
    """A second Clipper stack (the shared one stays as it is) with metrics, rules and dashboards on,
    and the backend's scrape token minted as `helm-mgmt metrics-token` does."""
    restricted_namespace(NAMESPACE)
    chart = str(LOCAL_VALUES.parents[1])
    values = ["-f", str(LOCAL_VALUES), "-f", str(MONITORING_VALUES)]
    helm.run(["upgrade", "--install", RELEASE, chart, "-n", NAMESPACE, *values], timeout=600)
    wait_all_ready(NAMESPACE, RELEASE, timeout=900)
    mint_metrics_token(NAMESPACE, RELEASE)
    yield NAMESPACE
    helm.run(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m"], timeout=360)
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


@pytest.fixture
def prometheus(monitoring, port_forward) -> Iterator[str]:
    with port_forward(MONITORING_NAMESPACE, PROMETHEUS, 9090) as port:
        yield f"http://127.0.0.1:{port}"


def targets_up(base: str) -> dict[str, int]:
    active = get_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
    up: dict[str, int] = {}
    for target in active:
        labels = target["labels"]
        if labels.get("namespace") == NAMESPACE and target["health"] == "up":
            up[labels["job"]] = up.get(labels["job"], 0) + 1
    return up


def test_clipper_targets_are_up(monitored, prometheus):
    # Two backend and two frontend pods (the local autoscaling minimum), the backend's scraped with
    # the admin token; one PostgreSQL and one Redis exporter. Wait for every target's first scrape.
    expected = {JOBS["backend"]: 2, JOBS["frontend"]: 2, JOBS["postgres"]: 1, JOBS["redis"]: 1}
    assert eventually(lambda: targets_up(prometheus) == expected, 180), (
        f"targets up in {NAMESPACE}: {targets_up(prometheus)}, expected {expected}"
    )
    assert query(prometheus, f'sum(pg_up{{job="{JOBS["postgres"]}",namespace="{NAMESPACE}"}})')[0]["value"][1] == "1"
    assert query(prometheus, f'sum(redis_up{{job="{JOBS["redis"]}",namespace="{NAMESPACE}"}})')[0]["value"][1] == "1"
    assert query(prometheus, f'sum(nginx_up{{job="{JOBS["frontend"]}",namespace="{NAMESPACE}"}})')[0]["value"][1] == "2"


def test_clipper_rules_are_loaded_and_evaluate(monitored, prometheus, kubectl):
    rendered = json.loads(kubectl("get", "prometheusrules", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    expected = {rule["alert"] for item in rendered for group in item["spec"]["groups"] for rule in group["rules"]}
    assert {"ClipperBackendDown", "ClipperPostgresConnectionsNearMax", "ClipperRedisMemoryNearMax"} <= expected

    def loaded() -> dict[str, dict]:
        groups = get_json(f"{prometheus}/api/v1/rules?type=alert")["data"]["groups"]
        return {rule["name"]: rule for group in groups for rule in group["rules"] if rule["name"] in expected}

    rules = eventually(
        lambda: (
            lambda r: (
                r
                if set(r) == expected and all(x.get("lastEvaluation", "").startswith("2") for x in r.values())
                else None
            )
        )(loaded()),
        180,
    )
    assert rules, f"loaded: {sorted(loaded())}, expected {sorted(expected)}"
    broken = {name: rule["lastError"] for name, rule in rules.items() if rule["health"] != "ok"}
    assert not broken


def dashboards(kubectl) -> dict[str, dict]:
    maps = json.loads(kubectl("get", "configmaps", "-n", NAMESPACE, "-l", "grafana_dashboard=1", "-o", "json").stdout)
    found = {}
    for item in maps["items"]:
        for name, text in item["data"].items():
            found[name.removeprefix("clipper-").removesuffix(".json")] = json.loads(text)
    return found


def test_every_dashboard_query_runs_and_core_panels_have_data(monitored, prometheus, kubectl):
    boards = dashboards(kubectl)
    assert set(boards) == {"backend", "frontend", "postgres", "redis"}
    eventually(lambda: all(targets_up(prometheus).get(j) for j in JOBS.values()), 180)
    for board, panel in CORE_PANELS:
        (expr,) = [t["expr"] for p in boards[board]["panels"] if p["title"] == panel for t in p["targets"]]
        assert eventually(lambda e=expr: query(prometheus, fill(e)), 120), f"{board} / {panel} has no data: {expr}"
    for model in boards.values():
        for panel in model["panels"]:
            for target in panel["targets"]:
                query(prometheus, fill(target["expr"]))  # asserts status success: the query runs


def test_backend_down_reaches_alertmanager(monitored, monitoring, kubectl, port_forward):
    deployment = f"deployment/{RELEASE}-backend"
    kubectl("scale", deployment, "-n", NAMESPACE, "--replicas=0")
    try:
        with port_forward(MONITORING_NAMESPACE, ALERTMANAGER, 9093) as port:
            url = f"http://127.0.0.1:{port}/api/v2/alerts?filter=alertname%3D%22ClipperBackendDown%22"

            def firing() -> list[dict]:
                alerts = json.loads(urllib.request.urlopen(url, timeout=10).read())
                return [a for a in alerts if a["status"]["state"] == "active"]

            started = time.monotonic()
            alerts = eventually(firing, 240)
            took = time.monotonic() - started
            assert alerts, "ClipperBackendDown never reached Alertmanager with the backend at 0 replicas"
            assert alerts[0]["labels"]["severity"] == "critical"
            # downFor is 30s in the local values; scrape (10s) and evaluation (10s) intervals on top.
            print(f"ClipperBackendDown active in Alertmanager {took:.0f}s after scaling to 0")
    finally:
        kubectl("scale", deployment, "-n", NAMESPACE, "--replicas=2")
        wait_all_ready(NAMESPACE, RELEASE, timeout=600)


def test_metrics_survive_a_prometheus_restart(monitored, monitoring, kubectl, port_forward):
    selector = "app.kubernetes.io/name=prometheus"
    with port_forward(MONITORING_NAMESPACE, PROMETHEUS, 9090) as port:
        base = f"http://127.0.0.1:{port}"
        assert eventually(lambda: query(base, f'up{{job="{JOBS["redis"]}",namespace="{NAMESPACE}"}}'), 120)
        before = time.time() - 5
        sample = query(base, f'up{{job="{JOBS["redis"]}",namespace="{NAMESPACE}"}}', at=before)
        assert sample, "no sample to compare before the restart"

    def uids() -> list[str]:
        jsonpath = "jsonpath={.items[*].metadata.uid}"
        return kubectl("get", "pods", "-n", MONITORING_NAMESPACE, "-l", selector, "-o", jsonpath).stdout.split()

    old = uids()
    assert old, "no Prometheus pod"
    kubectl("delete", "pods", "-n", MONITORING_NAMESPACE, "-l", selector, "--wait=true", timeout=240)
    assert eventually(lambda: (lambda now: now and not set(now) & set(old))(uids()), 120), "no new Prometheus pod"
    kubectl(
        "wait",
        "pods",
        "-n",
        MONITORING_NAMESPACE,
        "-l",
        selector,
        "--for=condition=Ready",
        "--timeout=300s",
        timeout=330,
    )
    with port_forward(MONITORING_NAMESPACE, PROMETHEUS, 9090) as port:
        base = f"http://127.0.0.1:{port}"
        after = eventually(lambda: query(base, f'up{{job="{JOBS["redis"]}",namespace="{NAMESPACE}"}}', at=before), 120)
        assert after, "the sample from before the restart is gone: Prometheus' data is not on its volume"
        assert after[0]["value"][1] == sample[0]["value"][1]
