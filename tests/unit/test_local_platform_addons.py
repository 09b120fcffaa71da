"""The local cluster's platform add-ons (Traefik, External Secrets Operator) before any cluster:
least privilege, loopback-only publishing, and entrypoints that match the ports the pod and the
Gateways use."""

from __future__ import annotations

from helm_mgmt.localcluster import externalsecrets, images, ingress


def _container() -> dict:
    return ingress.deployment()["spec"]["template"]["spec"]["containers"][0]


def test_traefik_may_only_read_and_write_status() -> None:
    for rule in ingress.RULES:
        writes = set(rule["verbs"]) - {"get", "list", "watch"}
        if writes:
            assert writes == {"update"}, rule
            assert all(resource.endswith("/status") for resource in rule["resources"]), rule
    resources = {resource for rule in ingress.RULES for resource in rule["resources"]}
    assert not resources & {"pods", "nodes", "nodes/proxy", "serviceaccounts", "*"}


def test_published_ports_are_loopback_only_and_match_the_entrypoints() -> None:
    args = ingress.args()
    ports = {port["name"]: port for port in _container()["ports"]}
    assert ports["web"]["containerPort"] == ingress.WEB_PORT
    assert ports["websecure"]["containerPort"] == ingress.WEBSECURE_PORT
    assert f"--entryPoints.web.address=:{ingress.WEB_PORT}" in args
    assert f"--entryPoints.websecure.address=:{ingress.WEBSECURE_PORT}" in args
    assert f"--entryPoints.traefik.address=:{ingress.ADMIN_PORT}" in args
    published = {port["hostPort"]: port["hostIP"] for port in ports.values() if "hostPort" in port}
    assert published == {80: "127.0.0.1", 443: "127.0.0.1"}
    assert "hostPort" not in ports["admin"]


def test_the_container_is_restricted_and_serves_both_classes() -> None:
    security = _container()["securityContext"]
    assert security["runAsNonRoot"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["readOnlyRootFilesystem"]
    args = ingress.args()
    assert "--providers.kubernetesIngressNGINX.ingressClass=nginx" in args
    assert "--providers.kubernetesGateway=true" in args
    assert "--global.checkNewVersion=false" in args and "--global.sendAnonymousUsage=false" in args
    kinds = {body["kind"]: body for _, body in ingress.objects()}
    assert kinds["IngressClass"]["spec"]["controller"] == "k8s.io/ingress-nginx"
    assert kinds["GatewayClass"]["spec"]["controllerName"] == "traefik.io/gateway-controller"
    # One replica holding hostPorts: a rolling update could never place the new pod.
    assert kinds["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}


def test_the_platform_images_are_built_with_the_stack_not_with_monitoring() -> None:
    assert images.IMAGES["traefik"] == ingress.IMAGE
    assert images.IMAGES["external-secrets"] == externalsecrets.IMAGE
    assert images.PLATFORM_IMAGES == (
        "traefik",
        "external-secrets",
        "cert-manager-controller",
        "cert-manager-acmesolver",
    )
    assert set(images.PLATFORM_IMAGES) <= set(images.selection())
    assert not set(images.PLATFORM_IMAGES) & set(images.MONITORING_IMAGES)


def test_the_secrets_operator_writes_secrets_but_runs_nothing() -> None:
    verbs = {
        (group, resource): set(rule["verbs"])
        for rule in externalsecrets.RULES
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {"create", "update", "delete"} <= verbs[("", "secrets")]
    assert verbs[("", "serviceaccounts/token")] == {"create"}
    assert not any(resource in {"pods", "deployments", "clusterrolebindings", "nodes"} for _, resource in verbs)
    assert "--enable-leader-election=false" in externalsecrets.args()
    assert "--enable-push-secret-reconciler=false" in externalsecrets.args()
