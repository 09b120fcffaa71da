"""The charts' NetworkPolicies, enforced by kube-router on the shared stack: every pair of a
source pod and a Service port below is tried over TCP through the Service, and each must be
allowed or denied exactly as the table says. kube-router refuses a denied connection; an engine
that drops it instead makes it time out after 3 s, which counts as denied too.

Sources are the real backend, frontend, PostgreSQL and Redis pods (a shell in their own
containers), and probe pods standing where the policies name peers: the ingress controller's
namespace, the monitoring namespace, a pod carrying the backup Job's labels, an unlabelled pod in
the release's namespace and a pod in another namespace.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator

import pytest
from loadpod import restricted_pod
from stackenv import RELEASE

# Namespaces the charts' defaults name for the ingress controller and Prometheus.
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "clipper-monitoring"
TARGETS = {
    "backend": ("backend", 8080),
    "frontend": ("frontend", 80),
    "postgres": ("postgres", 5432),
    "redis": ("redis", 6379),
}
ALLOWED = {
    "ingress": {"backend", "frontend"},
    "monitoring": {"backend", "frontend"},
    "backup-job": {"postgres"},  # while the release has backups on
    "same-namespace": set(),
    "other-namespace": set(),
    "backend": {"postgres", "redis"},
    "frontend": set(),
    "postgres": set(),
    "redis": set(),
}
# In-cluster addresses besides the release's Services that no chart pod may reach.
OUTSIDE_RELEASE = {"kube-apiserver": ("kubernetes.default.svc", 443)}
BACKUP_LABELS = {
    "app.kubernetes.io/name": "postgres",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "backup",
}
CONTAINERS = {"backend": "backend", "frontend": "nginx", "postgres": "postgres", "redis": "redis"}
DIAL = "timeout 3 bash -c '</dev/tcp/{host}/{port}' 2>/dev/null && echo open || echo closed"

Dialer = Callable[[str, int], bool]


def _probe_pod(name: str, namespace: str, image: str, labels: dict | None = None) -> str:
    container = {"name": "probe", "image": image, "args": ["idle"]}
    return restricted_pod(name, namespace, container, labels)


@pytest.fixture(scope="module")
def chart_pods(kubectl, stack: str) -> dict[str, str]:
    """One running pod of each chart component, by component."""
    pods = {}
    for component in CONTAINERS:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name={component}"
        pods[component] = kubectl(
            "get", "pod", "-n", stack, "-l", selector, "-o", "jsonpath={.items[0].metadata.name}"
        ).stdout
    return pods


@pytest.fixture(scope="module")
def sources(kubectl, stack: str, probe_image: str, chart_pods: dict[str, str]) -> Iterator[dict[str, Dialer]]:
    """Each source's name -> a function that says whether it can connect to host:port."""
    created = []
    for ns in (INGRESS_NAMESPACE, MONITORING_NAMESPACE, "netpol-elsewhere"):
        if kubectl("get", "namespace", ns, check=False).returncode != 0:
            kubectl("create", "namespace", ns)
            created.append(ns)
    probes = {
        "ingress": ("netpol-ingress", INGRESS_NAMESPACE, None),
        "monitoring": ("netpol-monitoring", MONITORING_NAMESPACE, None),
        "backup-job": ("netpol-backup-job", stack, BACKUP_LABELS),
        "same-namespace": ("netpol-unlabelled", stack, None),
        "other-namespace": ("netpol-elsewhere", "netpol-elsewhere", None),
    }
    for pod, ns, labels in probes.values():
        kubectl("apply", "-f", "-", stdin=_probe_pod(pod, ns, probe_image, labels))
    for pod, ns, _ in probes.values():
        kubectl("wait", "-n", ns, f"pod/{pod}", "--for=condition=Ready", "--timeout=120s")

    def probe_dialer(pod: str, ns: str) -> Dialer:
        def dial(host: str, port: int) -> bool:
            return kubectl("exec", "-n", ns, pod, "--", "/probe", "dial", f"{host}:{port}", check=False).returncode == 0

        return dial

    def shell_dialer(component: str) -> Dialer:
        def dial(host: str, port: int) -> bool:
            script = DIAL.format(host=shlex.quote(host), port=port)
            return (
                _exec(kubectl, stack, chart_pods[component], component, "bash", "-c", script).stdout.strip() == "open"
            )

        return dial

    dialers = {name: probe_dialer(pod, ns) for name, (pod, ns, _) in probes.items()}
    dialers.update({name: shell_dialer(name) for name in CONTAINERS})
    yield dialers
    for pod, ns, _ in probes.values():
        kubectl("delete", "pod", pod, "-n", ns, "--wait=false", check=False)
    for ns in created:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _exec(kubectl, stack: str, pod: str, component: str, *command: str):
    """Run ``command`` in the chart's own container of ``component``'s ``pod``."""
    return kubectl("exec", "-n", stack, pod, "-c", CONTAINERS[component], "--", *command, check=False)


def _service(stack: str, target: str) -> tuple[str, int]:
    name, port = TARGETS[target]
    return f"{RELEASE}-{name}.{stack}.svc.cluster.local", port


def test_every_source_reaches_exactly_the_services_its_policies_allow(kubectl, sources, stack: str) -> None:
    backups = kubectl("get", "cronjob", "-n", stack, "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name").stdout
    allowed_by = {**ALLOWED, "backup-job": ALLOWED["backup-job"] if backups.strip() else set()}
    wrong = []
    counts = {"allowed": 0, "denied": 0}
    for source, allowed in allowed_by.items():
        for target in TARGETS:
            if source == target:
                continue
            expected = target in allowed
            host, port = _service(stack, target)
            if sources[source](host, port) != expected:
                wrong.append(f"{source} -> {target}:{port} should be {'allowed' if expected else 'denied'}")
            counts["allowed" if expected else "denied"] += 1
    print(f"NetworkPolicy matrix: {counts['allowed']} allowed and {counts['denied']} denied pairs checked")
    assert wrong == []


@pytest.mark.parametrize("source", ["backend", "frontend", "postgres", "redis"])
def test_no_chart_pod_reaches_the_api_server(sources, source: str) -> None:
    host, port = OUTSIDE_RELEASE["kube-apiserver"]
    assert not sources[source](host, port)


def test_the_pods_resolve_names_through_cluster_dns(kubectl, stack: str, chart_pods: dict[str, str]) -> None:
    """DNS egress is allowed to every chart pod (the backend finds PostgreSQL and Redis by name)."""
    host, _ = _service(stack, "redis")
    for component in CONTAINERS:
        out = _exec(kubectl, stack, chart_pods[component], component, "getent", "hosts", host)
        assert out.returncode == 0 and out.stdout.strip(), f"{component} cannot resolve {host}: {out.stderr}"


def test_a_denial_is_the_policy_s_doing(kubectl, sources, stack: str, probe_image: str) -> None:
    """The control: the unlabelled probe, denied everywhere above, reaches a server that no policy
    selects (a probe serving HTTP in another namespace), so the denials are not a broken probe."""
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=restricted_pod(
            "netpol-open-server",
            "netpol-elsewhere",
            {"name": "probe", "image": probe_image, "args": ["serve", ":8080"]},
        ),
    )
    kubectl("wait", "-n", "netpol-elsewhere", "pod/netpol-open-server", "--for=condition=Ready", "--timeout=120s")
    ip = kubectl("get", "pod", "-n", "netpol-elsewhere", "netpol-open-server", "-o", "jsonpath={.status.podIP}").stdout
    assert sources["same-namespace"](ip, 8080)
    assert not sources["same-namespace"](*_service(stack, "backend"))
