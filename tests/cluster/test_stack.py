"""The charts on the real local cluster: server-side dry-run of every chart and value set, the
umbrella (the real Clipper) installed into a namespace that enforces Pod Security `restricted`,
every pod Ready through its real probes, `helm test`, the readiness contract with Redis gone, a
rolling update under traffic with both rollbacks, and a clean uninstall. What the application
itself answers is in test_clipper_app.py."""

from __future__ import annotations

import json
import re
import time

import pytest
from loadpod import restricted_pod
from stackenv import LOCAL_VALUES, RELEASE, stack_value_args
from stackenv import STACK_NAMESPACE as NAMESPACE
from waiting import wait_until

from helm_mgmt.bench import loadgen
from helm_mgmt.charts import application_charts
from helm_mgmt.helm import parse_manifests

DRY_RUN_CASES = [
    pytest.param(chart, env, values, id=f"{chart.name}-{env}")
    for chart in application_charts()
    for env, values in chart.example_values().items()
]


@pytest.mark.parametrize(("chart", "env", "values"), DRY_RUN_CASES)
def test_server_side_dry_run(chart, env, values, helm, kubectl, stack, request):
    """The API server itself validates every object (strict field validation, admission), the
    ExternalSecrets and HTTPRoutes too: the stack's fixture has installed those CRDs with the
    External Secrets Operator and Traefik; ServiceMonitors and PrometheusRules need the monitoring
    chart's CRDs, installed here when a chart renders them."""
    ns = f"dry-{chart.name}-{env}"[:63]
    if kubectl("get", "namespace", ns, check=False).returncode != 0:
        kubectl("create", "namespace", ns)
    text = helm.template(chart.path, [values] if values else [], namespace=ns)
    docs = parse_manifests(text)
    if any(doc["apiVersion"].startswith("monitoring.coreos.com/") for doc in docs):
        request.getfixturevalue("monitoring")
    # kube-prometheus-stack puts the Services that expose control-plane components in kube-system
    # on purpose; the dry run checks them in the throwaway namespace like the rest.
    for doc in docs:
        if doc["metadata"].get("namespace") not in (None, ns):
            doc["metadata"]["namespace"] = ns
    # Admission of a bare Pod (the helm test hooks) looks its ServiceAccount up, which a dry run
    # never creates: create the ServiceAccounts of this throwaway namespace for real first.
    accounts = [d for d in docs if d["kind"] == "ServiceAccount"]
    if accounts:
        kubectl("apply", "-n", ns, "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in accounts))
    manifest = "\n---\n".join(json.dumps(d) for d in docs)
    result = kubectl("apply", "--dry-run=server", "--validate=strict", "-n", ns, "-f", "-", stdin=manifest, check=False)
    assert result.returncode == 0, result.stderr
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(docs), result.stdout


def _pods(kubectl, selector: str) -> list[dict]:
    out = kubectl("get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json").stdout
    return json.loads(out)["items"]


def test_namespace_enforces_restricted(stack, kubectl):
    labels = json.loads(kubectl("get", "namespace", stack, "-o", "json").stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pod_admitted_and_ready(stack, kubectl):
    pods = _pods(kubectl, f"app.kubernetes.io/instance={RELEASE}")
    names = {p["metadata"]["labels"].get("app.kubernetes.io/name") for p in pods}
    assert {"backend", "frontend", "postgres", "redis"} <= names
    for pod in pods:
        if pod["status"]["phase"] == "Succeeded":
            continue
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
        assert ready == "True", f"{pod['metadata']['name']} not Ready"
    # Admission really ran: a privileged pod is refused in the same namespace.
    privileged = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "privileged-probe"},
            "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]},
        }
    )
    refused = kubectl("apply", "--dry-run=server", "-n", stack, "-f", "-", stdin=privileged, check=False)
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr


def test_helm_test_passes(stack, helm):
    proc = helm.run(["test", RELEASE, "-n", stack, "--timeout", "5m"], check=False, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Succeeded" in proc.stdout


def test_postgres_accepts_the_secret_password_and_has_extensions(stack, kubectl):
    """psql over TCP (not the local socket) as the application's role, with the password the backend gets."""
    query = "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension"
    cmd = (
        'PGPASSWORD="$(cat "$POSTGRES_APP_PASSWORD_FILE")" '
        f'psql -h 127.0.0.1 -U "$POSTGRES_APP_USER" -d "$POSTGRES_DB" -tAc "{query}"'
    )
    out = kubectl("exec", "-n", stack, f"{RELEASE}-postgres-0", "--", "sh", "-c", cmd).stdout
    assert {"vector", "pgcrypto", "pg_trgm", "ltree"} <= set(out.strip().split(","))


def _backend_ready_endpoints(kubectl) -> int:
    out = kubectl(
        "get", "endpointslices", "-n", NAMESPACE, "-l", f"kubernetes.io/service-name={RELEASE}-backend", "-o", "json"
    ).stdout
    return sum(
        1 for s in json.loads(out)["items"] for e in s.get("endpoints") or [] if e.get("conditions", {}).get("ready")
    )


def test_readiness_follows_redis_and_liveness_holds(stack, kubectl):
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=backend"
    restarts_before = {
        p["metadata"]["name"]: sum(c["restartCount"] for c in p["status"]["containerStatuses"])
        for p in _pods(kubectl, selector)
    }
    assert _backend_ready_endpoints(kubectl) >= 1
    kubectl("scale", "statefulset", f"{RELEASE}-redis", "-n", stack, "--replicas=0")
    try:
        wait_until(lambda: _backend_ready_endpoints(kubectl) == 0, 120, "backend to leave the endpoints", interval=3)
    finally:
        kubectl("scale", "statefulset", f"{RELEASE}-redis", "-n", stack, "--replicas=1")
    wait_until(lambda: _backend_ready_endpoints(kubectl) >= 1, 240, "backend to return to the endpoints", interval=3)
    restarts_after = {
        p["metadata"]["name"]: sum(c["restartCount"] for c in p["status"]["containerStatuses"])
        for p in _pods(kubectl, selector)
    }
    assert restarts_after == restarts_before, "liveness restarted a backend while only Redis was down"


# Until the first answer nothing counts: kube-router admits the new pod's address a moment after
# it starts. Then one request every 100 ms, each failure counted.
PROBE_LOOP = """
n=0
until wget --tries=1 -q -O /dev/null -T 1 "$URL"; do n=$((n+1)); [ $n -lt 60 ] || exit 3; sleep 0.5; done
echo loading
i=0; ok=0; fail=0
while [ $i -lt 3000 ] && [ ! -f /tmp/stop ]; do
  if wget --tries=1 -O /dev/null -T 3 "$URL" >/tmp/last 2>&1; then ok=$((ok+1))
  else fail=$((fail+1)); echo "failed request $i at $(date +%T): $(tail -n 2 /tmp/last | tr '\n' ' ')"; fi
  i=$((i+1)); sleep 0.1
done
echo "ok=$ok fail=$fail"
"""


def _traffic_pod(namespace: str, url: str, image: str) -> str:
    """A restricted-compliant pod that requests `url` every 100 ms until /tmp/stop exists; it has
    the load generator's labels, which the stack's NetworkPolicies admit."""
    container = {
        "name": "traffic",
        "image": image,
        "command": ["sh", "-c", PROBE_LOOP],
        "env": [{"name": "URL", "value": url}],
    }
    return restricted_pod("rollout-traffic", namespace, container, loadgen.LABELS)


def _pod_template_annotation(kubectl, name: str) -> str | None:
    dep = json.loads(kubectl("get", "deployment", name, "-n", NAMESPACE, "-o", "json").stdout)
    return (dep["spec"]["template"]["metadata"].get("annotations") or {}).get("clipper.test/rollout")


def test_rolling_update_has_no_downtime_then_rolls_back(stack, helm, kubectl):
    """Traffic through the backend Service during `helm upgrade` sees no failed request
    (maxUnavailable 0, readiness probes, preStop pause); then `helm rollback` and
    `kubectl rollout undo` each restore the previous pod template."""
    chart = str(LOCAL_VALUES.parents[1])
    backend = f"{RELEASE}-backend"
    # The Service's ClusterIP, not its name: what is measured is the rollout behind the Service,
    # not the node's DNS (a lookup per request timed out now and then on a loaded 2-core node).
    cluster_ip = kubectl("get", "service", backend, "-n", stack, "-o", "jsonpath={.spec.clusterIP}").stdout
    url = f"http://{cluster_ip}:8080/health/ready"
    kubectl("apply", "-f", "-", stdin=_traffic_pod(stack, url, "clipper.local/toolbox:local"))
    wait_until(
        lambda: (
            kubectl("get", "pod", "rollout-traffic", "-n", stack, "-o", "jsonpath={.status.phase}").stdout == "Running"
        ),
        120,
        "the traffic pod to run",
        interval=3,
    )
    wait_until(
        lambda: "loading" in kubectl("logs", "rollout-traffic", "-n", stack, check=False).stdout,
        60,
        "the traffic pod to reach the backend",
        interval=3,
    )
    time.sleep(2)
    helm.run(
        ["upgrade", RELEASE, chart, "-n", stack, *stack_value_args()]
        + ["--set-string", "backend.podAnnotations.clipper\\.test/rollout=v2", "--wait", "--timeout", "10m"],
        timeout=700,
    )
    kubectl("rollout", "status", f"deployment/{backend}", "-n", stack, "--timeout=300s", timeout=320)
    time.sleep(3)
    kubectl("exec", "rollout-traffic", "-n", stack, "--", "touch", "/tmp/stop")
    wait_until(
        lambda: (
            kubectl("get", "pod", "rollout-traffic", "-n", stack, "-o", "jsonpath={.status.phase}").stdout
            in ("Succeeded", "Failed")
        ),
        60,
        "the traffic pod to finish",
        interval=3,
    )
    log = kubectl("logs", "rollout-traffic", "-n", stack).stdout
    kubectl("delete", "pod", "rollout-traffic", "-n", stack, "--wait=false")
    summary = re.search(r"ok=(\d+) fail=(\d+)", log)
    assert summary, log
    assert int(summary.group(1)) > 50, f"too few requests to judge the rollout: {log[-500:]}"
    assert int(summary.group(2)) == 0, f"requests failed during the rolling update:\n{log[-2000:]}"
    assert _pod_template_annotation(kubectl, backend) == "v2"

    history = json.loads(helm.run(["history", RELEASE, "-n", stack, "-o", "json"]).stdout)
    previous = history[-2]["revision"]
    helm.run(["rollback", RELEASE, str(previous), "-n", stack, "--wait", "--timeout", "10m"], timeout=700)
    assert _pod_template_annotation(kubectl, backend) is None

    kubectl("rollout", "undo", f"deployment/{backend}", "-n", stack)
    kubectl("rollout", "status", f"deployment/{backend}", "-n", stack, "--timeout=300s", timeout=320)
    assert _pod_template_annotation(kubectl, backend) == "v2"


@pytest.mark.stack_uninstall
def test_uninstall_removes_every_object(stack, helm, kubectl):
    """Runs last in this module: everything labelled with the release goes, except what the charts
    document as kept (PVCs of the StatefulSets, and the database password Secret with keep policy)."""
    helm.run(["uninstall", RELEASE, "-n", stack, "--wait", "--timeout", "5m"], timeout=400)
    kinds = ",".join(
        ["deployments", "statefulsets", "services", "configmaps", "secrets", "serviceaccounts"]
        + ["networkpolicies", "pdb", "hpa", "jobs", "cronjobs", "pods"]
    )
    out = kubectl("get", kinds, "-n", stack, "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "json").stdout
    left = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in json.loads(out)["items"]
        if o["metadata"].get("annotations", {}).get("helm.sh/resource-policy") != "keep"
        and not (o["kind"] == "Pod" and o["metadata"].get("deletionTimestamp"))
    ]
    assert not left, f"objects left after uninstall: {left}"
    pvcs = json.loads(kubectl("get", "pvc", "-n", stack, "-o", "json").stdout)["items"]
    assert any(p["metadata"]["name"].endswith(f"{RELEASE}-postgres-0") for p in pvcs), "the database PVC was not kept"
    kubectl("delete", "namespace", stack, "--wait=false")
