"""The local cluster really works: node, pods, DNS, volumes, Pod Security, and a clean tear-down."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import probeimage
import pytest

from helm_mgmt.localcluster import components, containerd, down, ensure_up, netpolicy, network, process, report
from helm_mgmt.localcluster.teardown import NETNS_DIR, created_host_paths, mountpoints_under, shim_pids

RESTRICTED_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "fsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def pod(name: str, image: str, args: list[str], **spec: Any) -> str:
    container = {
        "name": "main",
        "image": image,
        "imagePullPolicy": "Never",
        "args": args,
        "securityContext": CONTAINER_CONTEXT,
        **spec.pop("container", {}),
    }
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "securityContext": RESTRICTED_CONTEXT,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
            **spec,
        },
    }
    return json.dumps(body)


def wait_succeeded(kubectl: Any, namespace: str, name: str, timeout: float = 120) -> str:
    """Wait for a run-to-completion pod; return its output, or fail with it as soon as the pod fails."""
    deadline = time.monotonic() + timeout
    while True:
        phase = kubectl("get", "-n", namespace, f"pod/{name}", "-o", "jsonpath={.status.phase}").stdout
        if phase in ("Succeeded", "Failed"):
            logs = kubectl("logs", "-n", namespace, name).stdout
            assert phase == "Succeeded", f"pod {name} failed:\n{logs}"
            return logs
        assert time.monotonic() < deadline, f"pod {name} still {phase} after {timeout:.0f}s"
        time.sleep(1)


def test_node_ready_with_pinned_version(kubectl: Any) -> None:
    node = json.loads(kubectl("get", "node", components.NODE_NAME, "-o", "json").stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == components.KUBERNETES_VERSION
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"] == components.KUBERNETES_VERSION
    assert (server["major"], server["minor"]) == ("1", "34")


def test_pod_becomes_ready(kubectl: Any, namespace: str, probe_image: str) -> None:
    readiness = {"exec": {"command": ["/probe", "lookup", "localhost"]}, "periodSeconds": 2}
    manifest = pod("idle", probe_image, ["idle"], container={"readinessProbe": readiness})
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    kubectl("wait", "-n", namespace, "pod/idle", "--for=condition=Ready", "--timeout=120s")
    ip = kubectl("get", "-n", namespace, "pod/idle", "-o", "jsonpath={.status.podIP}").stdout
    assert ip.startswith(components.POD_CIDR.rsplit(".", 1)[0] + ".")


def test_the_node_bridge_keeps_its_address_while_pods_come_and_go(
    kubectl: Any, namespace: str, probe_image: str
) -> None:
    """The pods' gateway has a fixed address: a bridge left to choose takes its lowest port's and
    changes it whenever a veth with a lower one comes or goes (seen 11 times in 17 minutes here)."""
    sysfs = Path("/sys/class/net") / components.BRIDGE
    assert (sysfs / "addr_assign_type").read_text().strip() == "3", "the address is set, not taken from a port"
    assert (sysfs / "address").read_text().strip() == components.BRIDGE_MAC
    names = [f"churn-{i}" for i in range(4)]
    for name in names:
        kubectl("apply", "-n", namespace, "-f", "-", stdin=pod(name, probe_image, ["idle"]))
    kubectl("wait", "-n", namespace, *[f"pod/{n}" for n in names], "--for=condition=Ready", "--timeout=120s")
    kubectl("delete", "-n", namespace, *[f"pod/{n}" for n in names], "--wait=true")
    assert (sysfs / "address").read_text().strip() == components.BRIDGE_MAC


def test_cluster_dns_resolves_kubernetes_service(kubectl: Any, namespace: str, probe_image: str) -> None:
    name = f"kubernetes.default.svc.{components.CLUSTER_DOMAIN}"
    manifest = pod("lookup", probe_image, ["lookup", name], restartPolicy="Never")
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    assert wait_succeeded(kubectl, namespace, "lookup").split() == [components.SERVICE_IP]


def _serve(kubectl: Any, namespace: str, image: str) -> None:
    """Pod ``web`` answering HTTP on 8080 behind Service ``web`` (port 80)."""
    readiness = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    server = pod("web", image, ["serve", ":8080"], container={"readinessProbe": readiness})
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    kubectl("apply", "-n", namespace, "-f", "-", stdin=server)
    kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(service))
    kubectl("wait", "-n", namespace, "pod/web", "--for=condition=Ready", "--timeout=120s")


def test_service_name_routes_to_its_pod(kubectl: Any, namespace: str, probe_image: str) -> None:
    _serve(kubectl, namespace, probe_image)
    url = f"http://web.{namespace}.svc.{components.CLUSTER_DOMAIN}/"
    # kube-proxy programs a new Service within about a second: the client may retry once or twice.
    client = pod("client", probe_image, ["get", url], restartPolicy="OnFailure")
    kubectl("apply", "-n", namespace, "-f", "-", stdin=client)
    kubectl("wait", "-n", namespace, "pod/client", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s")
    assert kubectl("logs", "-n", namespace, "client").stdout.strip() == "probe web"


def test_port_forward_reaches_a_pod(kubectl: Any, namespace: str, probe_image: str, port_forward: Any) -> None:
    _serve(kubectl, namespace, probe_image)
    with (
        port_forward(namespace, "pod/web", 8080) as local_port,
        urllib.request.urlopen(f"http://127.0.0.1:{local_port}/", timeout=10) as resp,
    ):
        assert resp.read().decode().strip() == "probe web"


def test_pvc_on_standard_binds_and_is_writable(kubectl: Any, namespace: str, probe_image: str) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "storageClassName": components.STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "64Mi"}},
        },
    }
    kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(claim))
    phase = kubectl("get", "-n", namespace, "pvc/data", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Pending", "WaitForFirstConsumer: no volume before a pod uses the claim"
    manifest = pod(
        "writer",
        probe_image,
        ["write", "/data/hello", "written by uid 65532"],
        restartPolicy="Never",
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
    )
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    assert wait_succeeded(kubectl, namespace, "writer").strip() == "written by uid 65532"
    bound = json.loads(kubectl("get", "-n", namespace, "pvc/data", "-o", "json").stdout)
    assert bound["status"]["phase"] == "Bound"
    volume = json.loads(kubectl("get", "pv", bound["spec"]["volumeName"], "-o", "json").stdout)
    written = Path(volume["spec"]["hostPath"]["path"]) / "hello"
    assert written.read_text() == "written by uid 65532"
    assert written.stat().st_uid == 65532


def test_restricted_namespace_rejects_privileged_pod(kubectl: Any, namespace: str, probe_image: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    privileged = pod("privileged", probe_image, ["idle"], container={"securityContext": {"privileged": True}})
    result = kubectl("apply", "-n", namespace, "-f", "-", stdin=privileged, check=False)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr
    assert "privileged" in result.stderr
    compliant = pod("compliant", probe_image, ["idle"])
    kubectl("apply", "-n", namespace, "-f", "-", stdin=compliant)


def _metrics(kubectl: Any, path: str) -> dict[str, Any]:
    """Poll a metrics.k8s.io object until metrics-server has scraped it (up to 90 s)."""
    deadline = time.monotonic() + 90
    while True:
        raw = kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/{path}", check=False)
        if raw.returncode == 0:
            return json.loads(raw.stdout)
        assert time.monotonic() < deadline, raw.stderr
        time.sleep(3)


def test_metrics_api_reports_node_and_pod_usage(kubectl: Any, namespace: str, probe_image: str) -> None:
    """metrics-server is registered as metrics.k8s.io and scrapes the kubelet (what an HPA reads)."""
    kubectl("apply", "-n", namespace, "-f", "-", stdin=pod("measured", probe_image, ["idle"]))
    kubectl("wait", "-n", namespace, "pod/measured", "--for=condition=Ready", "--timeout=120s")
    usage = _metrics(kubectl, f"nodes/{components.NODE_NAME}")["usage"]
    assert usage["cpu"] and usage["memory"].endswith("Ki")
    containers = _metrics(kubectl, f"namespaces/{namespace}/pods/measured")["containers"]
    assert [container["name"] for container in containers] == ["main"]
    assert containers[0]["usage"]["memory"].endswith("Ki")


def _iptables_chains() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


@pytest.mark.cluster_down
def test_down_leaves_nothing_behind(kubectl: Any, namespace: str, probe_image: str) -> None:
    # A hostPort on the loopback, as Traefik has: the portmap plugin's nat rules must go with down.
    published = {"container": {"ports": [{"containerPort": 8080, "hostPort": 18080, "hostIP": "127.0.0.1"}]}}
    kubectl("apply", "-n", namespace, "-f", "-", stdin=pod("running", probe_image, ["serve", ":8080"], **published))
    kubectl("wait", "-n", namespace, "pod/running", "--for=condition=Ready", "--timeout=120s")
    before = report.status()
    pids = [comp["pid"] for comp in before["components"].values()]
    assert all(pids), before
    namespaces = containerd.network_namespaces()
    assert namespaces, "a running pod has a network namespace"
    assert network.EGRESS_CHAIN in _iptables_chains(), "pods must not reach beyond the node"
    assert "KUBE-ROUTER-FORWARD" in _iptables_chains(), "kube-router enforces NetworkPolicies"
    assert "CNI-HOSTPORT-DNAT" in _iptables_chains(), "hostPorts are published through the portmap plugin"
    veths = network.bridge_ports()
    assert veths, "a running pod has a veth on the node bridge"
    host_paths = [path for path in created_host_paths() if path != NETNS_DIR]
    assert down() == []
    assert [pid for pid in pids if process.alive(pid)] == []
    assert shim_pids() == []
    assert mountpoints_under(components.state_dir()) == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert [ns for ns in namespaces if ns in mounts or Path(ns).exists()] == []
    link = subprocess.run(["ip", "link", "show", components.BRIDGE], capture_output=True, text=True)
    assert link.returncode != 0
    remaining = [v for v in veths if subprocess.run(["ip", "link", "show", v], capture_output=True).returncode == 0]
    assert remaining == []
    chains = _iptables_chains()
    assert "KUBE-SERVICES" not in chains
    assert network.EGRESS_CHAIN not in chains
    assert [chain for chain in netpolicy.CHAIN_PREFIXES if chain in chains] == []
    # A stale hostPort DNAT would catch the next cluster's traffic for a dead pod's address.
    assert [chain for chain in network.PORTMAP_CHAIN_PREFIXES if chain in chains] == []
    sets = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=True).stdout.split()
    assert [name for name in sets if name.startswith(netpolicy.IPSET_PREFIXES)] == []
    assert [path for path in host_paths if path.exists()] == []
    assert not components.state_dir().exists()


@pytest.mark.cluster_down
def test_down_and_up_survive_another_tool_adding_a_network_namespace(kubectl: Any) -> None:
    """Another tool's first `ip netns add` while pods run makes /run/netns a mount point; that used to
    cover the pods' namespaces, so down failed (EBUSY) and every later up with it. Now down and up
    both work, and the other tool's namespace is left alone and usable."""
    ensure_up()
    containerd.import_image(probeimage.archive(), probeimage.IMAGE)
    kubectl("apply", "-n", "default", "-f", "-", stdin=pod("netns-user", probeimage.IMAGE, ["idle"]))
    kubectl("wait", "-n", "default", "pod/netns-user", "--for=condition=Ready", "--timeout=120s")
    assert containerd.network_namespaces()
    other = f"clipper-kit-test-other-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", other], check=True, capture_output=True)
    try:
        assert down() == []
        assert subprocess.run(["ip", "netns", "exec", other, "true"], capture_output=True).returncode == 0
        ensure_up()
        assert report.status()["healthy"]
        assert down() == []
        assert subprocess.run(["ip", "netns", "exec", other, "true"], capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "delete", other], capture_output=True)
