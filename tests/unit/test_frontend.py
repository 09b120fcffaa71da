"""The frontend chart: non-root nginx on port 80, rollout, probes, autoscaling, network policy."""

from __future__ import annotations

import pytest
from charttest import chart_label, container, env_map, find, find_all, render, selector

CHART = "frontend"
SELECTOR = selector("frontend", "web")


@pytest.fixture(scope="module")
def default() -> list[dict]:
    return render(CHART)


def pod_spec(docs: list[dict]) -> dict:
    return find(docs, "Deployment", "clipper-frontend")["spec"]["template"]["spec"]


def test_every_object_is_namespaced_and_labelled(default):
    for doc in default:
        assert doc["metadata"]["namespace"] == "clipper", doc["metadata"]["name"]
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "clipper"
        assert labels["helm.sh/chart"] == chart_label("frontend")


def test_deployment_rolls_one_pod_at_a_time(default):
    dep = find(default, "Deployment", "clipper-frontend")
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert dep["spec"]["selector"]["matchLabels"] == SELECTOR
    spec = pod_spec(default)
    assert spec["terminationGracePeriodSeconds"] == 30
    nginx = container(spec, "nginx")
    assert nginx["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sh", "-c", "sleep 5"]


def test_prestop_can_be_turned_off():
    nginx = container(pod_spec(render(CHART, {"preStop": {"enabled": False}})), "nginx")
    assert "lifecycle" not in nginx


def test_image_is_pinned_to_app_version_and_digest_wins(default):
    assert container(pod_spec(default), "nginx")["image"] == "ghcr.io/subculture-collective/clipper/frontend:1.4.2"
    digest = "sha256:" + "a" * 64
    docs = render(CHART, {"image": {"digest": digest}, "global": {"imageRegistry": "mirror.example.com"}})
    assert container(pod_spec(docs), "nginx")["image"] == (
        f"mirror.example.com/subculture-collective/clipper/frontend@{digest}"
    )


@pytest.mark.parametrize(
    ("probe", "period", "failures"),
    [("startupProbe", 2, 15), ("livenessProbe", 10, 3), ("readinessProbe", 5, 3)],
)
def test_probes_fetch_health_html(default, probe, period, failures):
    p = container(pod_spec(default), "nginx")[probe]
    assert p["httpGet"] == {"path": "/health.html", "port": "http"}
    assert p["periodSeconds"] == period
    assert p["failureThreshold"] == failures


def test_port_80_through_the_safe_sysctl(default):
    spec = pod_spec(default)
    assert container(spec, "nginx")["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
    assert spec["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]


def test_high_port_drops_the_sysctl():
    docs = render(CHART, {"containerPort": 8080})
    spec = pod_spec(docs)
    assert container(spec, "nginx")["ports"][0]["containerPort"] == 8080
    assert "sysctls" not in spec["securityContext"]
    svc = find(docs, "Service", "clipper-frontend")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_service_port_http_80(default):
    svc = find(default, "Service", "clipper-frontend")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == SELECTOR


def assert_hardened_container(c: dict) -> None:
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]


def assert_hardened_pod(spec: dict, uid: int) -> None:
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == uid and psc["runAsGroup"] == uid and psc["fsGroup"] == uid
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False


def test_nginx_pod_is_hardened_with_writable_emptydirs(default):
    spec = pod_spec(default)
    assert_hardened_pod(spec, 101)
    nginx = container(spec, "nginx")
    assert_hardened_container(nginx)
    assert nginx["securityContext"]["runAsUser"] == 101
    mounts = {m["mountPath"]: m["name"] for m in nginx["volumeMounts"]}
    assert set(mounts) == {"/var/cache/nginx", "/var/run", "/tmp"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for name in mounts.values():
        assert volumes[name]["emptyDir"] == {"sizeLimit": "64Mi"}


def test_test_pod_is_hardened_and_fetches_health_html(default):
    pod = find(default, "Pod", "clipper-frontend-test-health")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = pod["spec"]
    assert_hardened_pod(spec, 10001)
    wget = container(spec, "wget")
    assert_hardened_container(wget)
    assert wget["image"] == "docker.io/library/busybox:1.37.0"
    assert {"name": "URL", "value": "http://clipper-frontend:80/health.html"} in wget["env"]
    assert 'wget -q -T 5 -O /dev/null "$URL"' in wget["command"][-1]
    assert spec["restartPolicy"] == "Never"


def test_test_pod_can_be_disabled():
    docs = render(CHART, {"tests": {"enabled": False}})
    assert not find_all(docs, "Pod")
    assert [n["metadata"]["name"] for n in find_all(docs, "NetworkPolicy")] == ["clipper-frontend"]


def test_service_account_has_no_token(default):
    sa = find(default, "ServiceAccount", "clipper-frontend")
    assert sa["automountServiceAccountToken"] is False
    assert pod_spec(default)["serviceAccountName"] == "clipper-frontend"


@pytest.mark.parametrize(
    ("env", "requests", "limits", "bounds"),
    [
        (None, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "300m", "memory": "512Mi"}, (2, 10)),
        ("production", {"cpu": "100m", "memory": "128Mi"}, {"cpu": "300m", "memory": "512Mi"}, (2, 10)),
        ("staging", {"cpu": "50m", "memory": "64Mi"}, {"cpu": "200m", "memory": "256Mi"}, (2, 4)),
    ],
)
def test_resources_and_hpa_per_environment(env, requests, limits, bounds):
    docs = render(CHART, env=env)
    nginx = container(pod_spec(docs), "nginx")
    assert nginx["resources"] == {"requests": requests, "limits": limits}
    hpa = find(docs, "HorizontalPodAutoscaler", "clipper-frontend")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == bounds
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "clipper-frontend"}
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
    }
    assert hpa["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 300,
        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
    }
    assert "replicas" not in find(docs, "Deployment", "clipper-frontend")["spec"]


def test_without_hpa_replica_count_is_used():
    docs = render(CHART, {"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert not find_all(docs, "HorizontalPodAutoscaler")
    assert find(docs, "Deployment", "clipper-frontend")["spec"]["replicas"] == 3


def test_pdb_keeps_one_pod(default):
    pdb = find(default, "PodDisruptionBudget", "clipper-frontend")["spec"]
    assert pdb == {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}}


def test_network_policy_allows_controller_and_monitoring_and_only_dns_out(default):
    np = find(default, "NetworkPolicy", "clipper-frontend")["spec"]
    assert np["podSelector"]["matchLabels"] == SELECTOR
    assert np["policyTypes"] == ["Ingress", "Egress"]
    [rule] = np["ingress"]
    namespaces = [
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in rule["from"]
        if "namespaceSelector" in p
    ]
    assert namespaces == ["ingress-nginx", "clipper-monitoring"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert np["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


def test_network_policy_is_configurable():
    docs = render(
        CHART,
        {"networkPolicy": {"ingressController": {"namespace": "traefik"}, "monitoring": {"enabled": False}}},
    )
    [rule] = find(docs, "NetworkPolicy", "clipper-frontend")["spec"]["ingress"]
    namespaces = [
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in rule["from"]
        if "namespaceSelector" in p
    ]
    assert namespaces == ["traefik"]
    assert not find_all(render(CHART, {"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_test_pod_is_covered_by_a_network_policy(default):
    np = find(default, "NetworkPolicy", "clipper-frontend-test")["spec"]
    assert np["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    assert np["ingress"] == []
    assert {"to": [{"podSelector": {"matchLabels": SELECTOR}}], "ports": [{"port": 80, "protocol": "TCP"}]} in np[
        "egress"
    ]
    test_pod = find(default, "Pod", "clipper-frontend-test-health")
    labels = test_pod["metadata"]["labels"]
    assert all(labels[k] == v for k, v in np["podSelector"]["matchLabels"].items())
    # the frontend policy lets the test pod in
    main = find(default, "NetworkPolicy", "clipper-frontend")["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": np["podSelector"]["matchLabels"]}} in main


def test_spread_and_soft_anti_affinity_by_default(default):
    spec = pod_spec(default)
    keys = [t["topologyKey"] for t in spec["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert all(t["whenUnsatisfiable"] == "ScheduleAnyway" for t in spec["topologySpreadConstraints"])
    [term] = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == SELECTOR


def test_user_affinity_and_spread_replace_the_defaults():
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["web"]}]}]
            }
        }
    }
    spread = [
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": SELECTOR},
        }
    ]
    spec = pod_spec(
        render(
            CHART,
            {
                "affinity": affinity,
                "topologySpreadConstraints": spread,
                "priorityClassName": "web",
                "nodeSelector": {"pool": "web"},
            },
        )
    )
    assert spec["affinity"] == affinity
    assert spec["topologySpreadConstraints"] == spread
    assert spec["priorityClassName"] == "web"
    assert spec["nodeSelector"] == {"pool": "web"}


def test_extra_env_is_added_in_order_and_extra_volumes_are_mounted():
    values = {
        "extraEnv": [
            {"name": "NGINX_PORT", "value": "8080"},
            {"name": "TZ", "value": "UTC"},
        ],
        "extraVolumes": [{"name": "extra-conf", "configMap": {"name": "my-nginx-conf"}}],
        "extraVolumeMounts": [{"name": "extra-conf", "mountPath": "/etc/nginx/conf.d"}],
    }
    spec = pod_spec(render(CHART, values))
    nginx = container(spec, "nginx")
    assert [e["name"] for e in nginx["env"]] == ["NGINX_PORT", "TZ"]
    assert env_map(nginx) == {"NGINX_PORT": "8080", "TZ": "UTC"}
    assert {"name": "extra-conf", "mountPath": "/etc/nginx/conf.d"} in nginx["volumeMounts"]
    assert {"name": "extra-conf", "configMap": {"name": "my-nginx-conf"}} in spec["volumes"]


def test_no_env_by_default(default):
    assert "env" not in container(pod_spec(default), "nginx")


def test_frontend_holds_no_secret_or_configmap(default):
    assert not find_all(default, "Secret") and not find_all(default, "ConfigMap")
    spec = pod_spec(default)
    referenced = [v for v in spec["volumes"] if "secret" in v or "configMap" in v]
    assert not referenced


def test_pod_annotations_and_labels_pass_through():
    docs = render(CHART, {"podAnnotations": {"a": "b"}, "podLabels": {"team": "web"}, "commonLabels": {"cost": "site"}})
    tpl = find(docs, "Deployment", "clipper-frontend")["spec"]["template"]
    assert tpl["metadata"]["annotations"] == {"a": "b"}
    assert tpl["metadata"]["labels"]["team"] == "web"
    assert tpl["metadata"]["labels"]["cost"] == "site"
    assert find(docs, "Deployment", "clipper-frontend")["spec"]["selector"]["matchLabels"] == SELECTOR


def test_pull_secrets_are_merged_without_duplicates():
    docs = render(
        CHART, {"imagePullSecrets": ["regcred", {"name": "other"}], "global": {"imagePullSecrets": ["regcred"]}}
    )
    assert pod_spec(docs)["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
    assert find(docs, "Pod", "clipper-frontend-test-health")["spec"]["imagePullSecrets"] == [
        {"name": "regcred"},
        {"name": "other"},
    ]


def test_ingress_is_off_by_default_and_routes_root_when_on(default):
    assert not find_all(default, "Ingress")
    docs = render(
        CHART,
        {
            "ingress": {
                "enabled": True,
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt-prod"},
                "tls": [{"secretName": "web-tls", "hosts": ["clpr.tv"]}],
            }
        },
    )
    ing = find(docs, "Ingress", "clipper-frontend")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"secretName": "web-tls", "hosts": ["clpr.tv"]}]
    [rule] = ing["spec"]["rules"]
    assert rule["host"] == "clpr.tv"
    assert rule["http"]["paths"] == [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": "clipper-frontend", "port": {"name": "http"}}},
        }
    ]


def test_fullname_follows_release_name():
    docs = render(CHART, release="frontend-blue")
    assert find(docs, "Deployment")["metadata"]["name"] == "frontend-blue"
    docs = render(CHART, {"fullnameOverride": "web"})
    assert find(docs, "Service")["metadata"]["name"] == "web"
    assert {"name": "URL", "value": "http://web:80/health.html"} in find(docs, "Pod")["spec"]["containers"][0]["env"]
