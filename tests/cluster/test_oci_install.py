"""A chart pushed to an OCI registry installs back from it: `helm-mgmt package --push` into Debian's
docker-registry on loopback, then the redis chart installed from its oci:// reference into a
throwaway namespace that enforces Pod Security `restricted`, Ready, its `helm test` passing, and
uninstalled.

Helm installs it directly: `helm-mgmt install` installs the umbrella from helm/charts only, and
this test is about the published artefact."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from ociregistry import Registry, run_tool, running, tool_checkout

from helm_mgmt.localcluster import containerd, images

RELEASE = "oci-redis"
# The redis image built here (as in the umbrella's values-local.yaml), small requests.
VALUES = {
    "image": {"repository": "clipper.local/redis", "tag": "7", "pullPolicy": "IfNotPresent"},
    "persistence": {"size": "1Gi"},
    "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def test_redis_installs_back_from_the_registry(cluster, helm, kubectl, namespace, registry, tmp_path):
    images.import_all("ctr", str(containerd.socket_path()), names=("redis",))
    checkout = tool_checkout(tmp_path / "checkout")
    proc = run_tool(checkout, "package", "--push", f"{registry.url}/clipper", "--plain-http", "--output", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [redis] = [p for p in json.loads(proc.stdout)["pushed"] if p["chart"] == "redis"]
    assert redis["reference"] == f"{registry.url}/clipper/redis"

    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    source = [redis["reference"], "--version", redis["version"], "--plain-http"]
    try:
        helm.run(
            ["install", RELEASE, *source, "-n", namespace, "-f", str(values), "--wait", "--timeout", "5m"], timeout=360
        )
        selector = f"app.kubernetes.io/instance={RELEASE}"
        kubectl("wait", "pods", "-n", namespace, "-l", selector, "--for=condition=Ready", "--timeout=120s", timeout=150)
        [release] = json.loads(helm.run(["list", "-n", namespace, "-o", "json"]).stdout)
        assert (release["chart"], release["status"]) == (f"redis-{redis['version']}", "deployed")
        tested = helm.run(["test", RELEASE, "-n", namespace, "--timeout", "5m"], check=False, timeout=400)
        assert tested.returncode == 0, tested.stdout + tested.stderr
    finally:
        helm.run(["uninstall", RELEASE, "-n", namespace, "--wait", "--timeout", "5m"], check=False, timeout=360)
    assert json.loads(helm.run(["list", "-n", namespace, "-o", "json"]).stdout) == []
