"""The local cluster's platform add-ons (Traefik, External Secrets Operator and its store, Pebble)
before any cluster: least privilege, loopback-only publishing, entrypoints that match the ports the
pod and the Gateways use, and the site's names leading to the ingress inside the cluster."""

from __future__ import annotations

import re
import subprocess

import pytest

from helm_mgmt.localcluster import certmanager, dns, externalsecrets, images, ingress, pebble, secretstore


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
        "pebble",
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


def _rewrite_rule(tmp_path, monkeypatch) -> tuple[str, str]:
    monkeypatch.setattr(dns.c, "state_dir", lambda: tmp_path)
    line = next(line.split() for line in dns._corefile().read_text().splitlines() if "rewrite" in line)
    assert line[:3] == ["rewrite", "name", "regex"] and line[-2:] == ["answer", "auto"]
    return line[3], line[4]


@pytest.mark.parametrize(
    ("name", "leads_to_ingress"),
    [
        ("clipper.local.", True),
        ("e2e.clipper.local.", True),
        ("acme-1a2b3c.clipper.local.", True),
        ("xclipper.local.", False),
        # What a pod's search list tries first must stay the cluster's own (unknown) names.
        ("e2e.clipper.local.default.svc.cluster.local.", False),
        ("clipper.local.evil.example.", False),
    ],
)
def test_only_the_sites_names_lead_to_the_ingress_service(tmp_path, monkeypatch, name, leads_to_ingress) -> None:
    pattern, target = _rewrite_rule(tmp_path, monkeypatch)
    # CoreDNS writes the pattern with Go's regexp syntax; this one is the same in Python's.
    assert bool(re.match(pattern, name)) is leads_to_ingress
    service = next(body for _, body in ingress.objects() if body["kind"] == "Service")
    assert target == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local."
    assert {p["port"]: p["targetPort"] for p in service["spec"]["ports"]} == {80: "web", 443: "websecure"}


def test_pebble_validates_on_the_ports_the_ingress_serves_and_needs_no_api() -> None:
    settings = pebble.config()["pebble"]
    assert (settings["httpPort"], settings["tlsPort"]) == (80, 443)
    pod = pebble.deployment()["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert [body["kind"] for _, body in pebble.addons.identity(pebble.NAME, pebble.NAMESPACE, [])] == [
        "Namespace",
        "ServiceAccount",
    ]
    env = {item["name"]: item["value"] for item in pod["containers"][0]["env"]}
    # Validation stays real: the variable that makes every challenge valid is never set.
    assert "PEBBLE_VA_ALWAYS_VALID" not in env
    mounts = {m["mountPath"]: m["readOnly"] for m in pod["containers"][0]["volumeMounts"] if m["name"] != "tmp"}
    assert mounts == {pebble.CONFIG_DIR: True, pebble.TLS_DIR: True}
    assert settings["certificate"].startswith(pebble.TLS_DIR + "/")
    cert = pebble.serving_certificate()["spec"]
    assert cert["issuerRef"]["name"] == certmanager.CA_ISSUER
    assert pebble.DIRECTORY.split("//")[1].split(":")[0] in cert["dnsNames"]


def test_the_acme_issuer_trusts_pebble_through_the_local_ca_and_solves_through_the_ingress() -> None:
    made = pebble.issuer(b"-----BEGIN CERTIFICATE-----\n", "uid-1")
    assert made["metadata"]["annotations"] == {pebble.REGISTERED_WITH: "uid-1"}
    acme = made["spec"]["acme"]
    assert acme["server"] == pebble.DIRECTORY
    assert acme["caBundle"] == "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": ingress.INGRESS_CLASS}}}]


def test_the_store_reader_may_only_read_secrets_of_the_store() -> None:
    objects = {body["kind"]: body for _, body in secretstore.objects("s", "ns")}
    rules = objects["Role"]["rules"]
    assert objects["Role"]["metadata"]["namespace"] == "ns"
    assert {(tuple(r["resources"]), tuple(r["verbs"])) for r in rules} == {
        (("secrets",), ("get", "list", "watch")),
        (("selfsubjectrulesreviews",), ("create",)),
    }
    provider = objects["ClusterSecretStore"]["spec"]["provider"]["kubernetes"]
    assert provider["remoteNamespace"] == "ns"
    assert provider["auth"] == {"serviceAccount": {"name": secretstore.READER, "namespace": "ns"}}


def test_generated_backend_keys_are_an_rsa_key_and_a_32_byte_mfa_key() -> None:
    keys = secretstore.generated_backend_keys()
    assert set(keys) == set(secretstore.BACKEND_KEYS)
    assert len(keys["MFA_ENCRYPTION_KEY"]) == 32
    checked = subprocess.run(
        ["openssl", "rsa", "-check", "-noout"], input=keys["JWT_PRIVATE_KEY"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert secretstore.generated_backend_keys()["MFA_ENCRYPTION_KEY"] != keys["MFA_ENCRYPTION_KEY"]


def _provider_file(root, text: str):
    path = root / "pkg/provider/kubernetes/ingress-nginx/kubernetes.go"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_the_traefik_build_hands_the_terminating_condition_to_the_balancer(tmp_path) -> None:
    from helm_mgmt.localcluster import platformbuild

    upstream = "func f() {\n" + platformbuild._TRAEFIK_UNFENCED + "\n}\n"
    path = _provider_file(tmp_path, upstream)
    platformbuild._patch_traefik(tmp_path)
    assert "\t\t\tFenced: addr.Fenced,\n" in path.read_text()
    # The patch is part of the image's key: a patched binary never hides under the plain version.
    assert platformbuild.TRAEFIK_PATCH in platformbuild.traefik_key()


def test_a_traefik_source_without_the_line_to_patch_is_refused(tmp_path) -> None:
    from helm_mgmt.localcluster import platformbuild

    _provider_file(tmp_path, "package ingressnginx\n")
    with pytest.raises(RuntimeError, match="not there once"):
        platformbuild._patch_traefik(tmp_path)


@pytest.mark.parametrize("addon", [ingress, externalsecrets, certmanager, pebble], ids=lambda m: m.__name__)
def test_an_addon_restarts_when_its_image_is_rebuilt_under_the_same_tag(addon) -> None:
    template = addon.deployment()["spec"]["template"]["metadata"]
    key = template["annotations"]["clipper-kit.local/image-key"]
    recipe = next(r for r in images.RECIPES if r.reference == addon.IMAGE)
    # The same key names the image's archive: a rebuilt image has a new one.
    assert images.archive_path(recipe).parent.name.endswith(f"-{key}")
