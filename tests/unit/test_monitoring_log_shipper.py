"""The monitoring chart's log shipper (Grafana Alloy as a DaemonSet): it pushes to the Loki
gateway this release renders, reads the node's pod logs read-only, may only read pods from the
API, and follows its values. Rendered only: no Alloy image can be had here (the Go module proxy
refuses github.com/grafana/alloy), and Loki is not run either."""

from __future__ import annotations

import re

import pytest
from charttest import container, find, find_all, render

CHART = "monitoring"
NS = "clipper-monitoring"


def shipper(values: dict | None = None, env: str | None = None) -> list[dict]:
    return render(CHART, values, env=env, release="monitoring", namespace=NS)


def config(docs: list[dict]) -> str:
    return find(docs, "ConfigMap", "monitoring-log-shipper")["data"]["config.alloy"]


def test_it_pushes_to_the_loki_gateway_of_the_same_release():
    docs = shipper()
    gateway = [s for s in find_all(docs, "Service") if s["metadata"]["name"].endswith("-loki-gateway")]
    assert len(gateway) == 1
    name, port = gateway[0]["metadata"]["name"], gateway[0]["spec"]["ports"][0]["port"]
    assert port == 80, "the push URL carries no port"
    assert f'url = "http://{name}.{NS}.svc/loki/api/v1/push"' in config(docs)


def test_given_url_namespaces_and_labels_reach_the_config():
    values = {
        "logShipper": {
            "lokiUrl": "https://logs.example.com/loki/api/v1/push",
            "namespaces": ["clipper", "clipper-monitoring"],
            "externalLabels": {"cluster": "prod-eu1"},
        }
    }
    text = config(shipper(values))
    assert 'url = "https://logs.example.com/loki/api/v1/push"' in text
    assert 'names = ["clipper", "clipper-monitoring"]' in text
    assert '"cluster" = "prod-eu1",' in text
    assert "namespaces {" not in config(shipper()), "no namespace filter by default"


def test_config_labels_streams_and_finds_the_files_of_this_node_only():
    text = config(shipper())
    assert 'field = "spec.nodeName=" + sys.env("NODE_NAME")' in text
    for label in ("namespace", "pod", "container", "app", "instance"):
        assert f'target_label  = "{label}"' in text
    assert 'replacement   = "/var/log/pods/*$1/*.log"' in text
    assert "stage.cri {}" in text
    # Every component a block forwards to is declared.
    declared = set(re.findall(r'^(\S+) "(\w+)" \{', text, re.M))
    for kind, label in re.findall(r"(loki\.\w+)\.(\w+)\.receiver", text):
        assert (kind, label) in declared, f"{kind}.{label} is not declared"


def test_daemonset_reads_logs_read_only_with_no_capabilities():
    docs = shipper()
    ds = find(docs, "DaemonSet", "monitoring-log-shipper")
    spec = ds["spec"]["template"]["spec"]
    alloy = container(spec, "alloy")
    assert alloy["image"] == "docker.io/grafana/alloy:v1.21.0"
    mounts = {m["mountPath"]: m for m in alloy["volumeMounts"]}
    assert mounts["/var/log/pods"]["readOnly"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["pod-logs"]["hostPath"] == {"path": "/var/log/pods", "type": "Directory"}
    assert volumes["positions"]["hostPath"]["path"] == "/var/lib/clipper-alloy"
    sc = alloy["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert {"operator": "Exists"} in spec["tolerations"], "every node, tainted ones included"
    env = {e["name"]: e for e in alloy["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_its_api_access_is_reading_pods_only():
    docs = shipper()
    role = find(docs, "ClusterRole", "monitoring-log-shipper")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    binding = find(docs, "ClusterRoleBinding", "monitoring-log-shipper")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "monitoring-log-shipper", "namespace": NS}]


def test_digest_pins_the_image():
    digest = "sha256:" + "a" * 64
    ds = find(shipper({"logShipper": {"image": {"digest": digest}}}), "DaemonSet", "monitoring-log-shipper")
    assert container(ds["spec"]["template"]["spec"], "alloy")["image"] == f"docker.io/grafana/alloy@{digest}"


@pytest.mark.parametrize("values", [{"logShipper": {"enabled": False}}, None])
def test_off_renders_nothing_of_it(values):
    docs = shipper(values, env="local" if values is None else None)
    assert not [d for d in docs if d["metadata"]["name"].startswith("monitoring-log-shipper")]


def test_network_policy_lets_it_reach_dns_the_api_server_and_loki_only():
    policy = find(shipper(), "NetworkPolicy", "monitoring-log-shipper")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "log-shipper"
    assert policy["spec"]["ingress"] == []
    dns, api, loki = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and "to" not in dns
    assert [p["port"] for p in api["ports"]] == [443, 6443]
    assert loki["ports"] == [{"port": 8080, "protocol": "TCP"}]
    gateway = loki["to"][0]["podSelector"]["matchLabels"]
    assert gateway == {
        "app.kubernetes.io/name": "loki",
        "app.kubernetes.io/instance": "monitoring",
        "app.kubernetes.io/component": "gateway",
    }
    pods = [d for d in shipper() if d["kind"] == "Deployment" and d["metadata"]["name"] == "monitoring-loki-gateway"]
    labels = pods[0]["spec"]["template"]["metadata"]["labels"]
    assert gateway.items() <= labels.items(), "the policy must select the gateway pods this render makes"
    ports = [p["containerPort"] for c in pods[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    assert 8080 in ports
    own = find(
        shipper({"logShipper": {"lokiUrl": "https://logs.example.com/loki/api/v1/push"}}),
        "NetworkPolicy",
        "monitoring-log-shipper",
    )
    assert own["spec"]["egress"][2] == {"ports": [{"port": 443, "protocol": "TCP"}]}
