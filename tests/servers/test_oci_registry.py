"""`helm-mgmt package --push` against a real OCI registry on loopback (Debian's docker-registry):
every application chart pushed leaf first with each Helm release, what comes back renders like the
local chart, a published version is never overwritten, bad input pushes nothing, and credentials
work without being kept."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ociregistry import Registry, run_tool, running, tool_checkout

from helm_mgmt.charts import _tgz_files, application_charts, load_charts
from helm_mgmt.helm import Helm, parse_manifests

from .support import free_port

pytestmark = pytest.mark.servers

HELMS = ["helm4", "helm3", "helm3-oldest"]
PASSWORD = "push-secret-for-tests"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tool_checkout(tmp_path_factory.mktemp("checkout"))


def app_charts(checkout: Path) -> list:
    return application_charts(load_charts(checkout / "helm" / "charts"))


def push(checkout: Path, target: str, *extra: str, stdin: str = "", env: dict[str, str] | None = None):
    return run_tool(checkout, "package", "--push", target, *extra, stdin=stdin, env=env)


@pytest.fixture(scope="module")
def pushed(registry: Registry, checkout: Path) -> dict[str, list[dict]]:
    """Every Helm release pushes every chart to a path of its own: {helm key: the pushed charts}."""
    results = {}
    for key in HELMS:
        proc = push(checkout, f"{registry.url}/{key}", "--plain-http", "--helm", key, "--output", "json")
        assert proc.returncode == 0, f"package --push with {key} failed:\n{proc.stdout}\n{proc.stderr}"
        results[key] = json.loads(proc.stdout)["pushed"]
    return results


@pytest.mark.parametrize("key", HELMS)
def test_every_application_chart_is_pushed_leaf_first_with_its_digest(key, pushed, registry, checkout):
    charts = app_charts(checkout)
    assert [p["chart"] for p in pushed[key]] == [c.name for c in charts]
    assert pushed[key][-1]["chart"] == "clipper" and "clipper-common" not in [p["chart"] for p in pushed[key]]
    for chart, result in zip(charts, pushed[key], strict=True):
        repository = f"{key}/{chart.name}"
        assert result["pushed"] and result["reference"] == f"{registry.url}/{repository}"
        assert registry.tags(repository) == [chart.version]
        assert result["digest"] == registry.manifest_digest(repository, chart.version)
    umbrella = f"clipper-{load_charts()['clipper'].version}.tgz"
    assert (checkout / "dist" / umbrella).is_file(), "the copy's tool did not package into the copy"


@pytest.mark.parametrize("key", HELMS)
def test_show_chart_from_the_registry_reports_the_version(key, pushed, registry, checkout):
    helm = Helm(key)
    for chart in app_charts(checkout):
        ref = f"{registry.url}/{key}/{chart.name}"
        shown = helm.run(["show", "chart", ref, "--version", chart.version, *helm.registry_args(registry.host, True)])
        meta = yaml.safe_load(shown.stdout)
        assert (meta["name"], meta["version"]) == (chart.name, chart.version)


def varying(a: Any, b: Any, path: tuple = ()) -> list[tuple]:
    """The paths at which two renders of the same chart and values differ (generated passwords and
    keys, and the checksums of what holds them)."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [p for key in a for p in varying(a[key], b[key], (*path, key))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in varying(x, y, (*path, i))]
    return [] if a == b else [path]


def masked(docs: list, paths: list[tuple]) -> list:
    docs = copy.deepcopy(docs)
    for path in paths:
        node = docs
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = "<differs between two renders>"
    return docs


@pytest.mark.parametrize("name", ["redis", "backend", "clipper"])
def test_a_chart_from_the_registry_renders_like_the_local_one(name, pushed, registry, checkout, tmp_path):
    helm = Helm("helm4")
    chart = load_charts(checkout / "helm" / "charts")[name]
    ref = f"{registry.url}/helm4/{name}"
    remote = [ref, "--version", chart.version, "--plain-http"]
    for label, values in chart.example_values().items():
        vargs = ["-f", str(values)] if values else []
        local, again = (
            parse_manifests(helm.run(["template", "clipper", str(chart.path), "-n", "clipper", *vargs]).stdout)
            for _ in range(2)
        )
        pulled = parse_manifests(helm.run(["template", "clipper", *remote, "-n", "clipper", *vargs]).stdout)
        random = varying(local, again)
        generated = [p for p in random if (local[p[0]]["kind"], p[1]) == ("Secret", "data")]
        checksums = {p for p in random if str(p[-1]).startswith("checksum/")}
        assert set(random) - set(generated) == checksums, "only generated secrets may differ between renders"
        assert masked(pulled, random) == masked(local, random), f"{name} ({label} values) differs from {ref}"
    helm.run(["pull", *remote, "--destination", str(tmp_path)])
    archive = tmp_path / f"{name}-{chart.version}.tgz"
    assert _tgz_files(archive.read_bytes()) == _tgz_files((checkout / "dist" / archive.name).read_bytes())


def test_pushing_the_same_versions_again_pushes_nothing(pushed, registry, checkout):
    before = {p["chart"]: (p["version"], p["digest"]) for p in pushed["helm4"]}
    proc = push(checkout, f"{registry.url}/helm4", "--plain-http")
    assert proc.returncode == 0, proc.stderr
    for chart, (version, digest) in before.items():
        said = f"{chart} {version} is already in {registry.url}/helm4/{chart} with the same content: {digest}"
        assert said in proc.stdout
        assert registry.manifest_digest(f"helm4/{chart}", version) == digest


def test_a_published_version_with_other_content_is_not_overwritten(pushed, registry, tmp_path):
    changed = tool_checkout(tmp_path)
    values = changed / "helm" / "charts" / "redis" / "values.yaml"
    values.write_text(values.read_text() + "# changed after its version was published\n")
    before = {p["chart"]: (p["version"], p["digest"]) for p in pushed["helm4"]}
    proc = push(changed, f"{registry.url}/helm4", "--plain-http")
    assert proc.returncode == 1
    # The umbrella packs redis, so it differs as well.
    redis, umbrella = before["redis"][0], before["clipper"][0]
    assert f"already holds redis {redis}, clipper {umbrella} with different content" in proc.stderr
    assert "Nothing was pushed" in proc.stderr
    after = {
        chart: (version, registry.manifest_digest(f"helm4/{chart}", version)) for chart, (version, _) in before.items()
    }
    assert after == before


@pytest.mark.parametrize(
    ("target", "code", "says"),
    [
        ("https://{host}/clipper", 2, "is not an OCI reference"),
        ("oci://{host}/Clipper", 2, "is not a valid repository name"),
        ("oci://{host}/clipper/redis:0.1.0", 2, "no tag or digest here"),
        ("oci://127.0.0.1:{closed}/clipper", 1, "(nothing was pushed)"),
    ],
)
def test_bad_targets_push_nothing(target, code, says, registry, tmp_path):
    copy = tool_checkout(tmp_path)
    before = registry.catalog()
    proc = push(copy, target.format(host=registry.host, closed=free_port()), "--plain-http")
    assert (proc.returncode, proc.stdout) == (code, ""), proc.stderr
    assert says in proc.stderr
    assert registry.catalog() == before
    if code == 2:
        assert not (copy / "dist").exists(), "a usage error must stop before anything is built"


@pytest.fixture(scope="module")
def locked_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running(tmp_path_factory.mktemp("locked"), users={"pusher": PASSWORD}) as reg:
        yield reg


@pytest.mark.parametrize("key", ["helm4", "helm3-oldest"])
def test_credentials_from_stdin_or_a_registry_config(key, locked_registry, checkout, tmp_path):
    target = f"{locked_registry.url}/{key}"
    default_config = tmp_path / "helm-default-registry.json"
    env = {"HELM_REGISTRY_CONFIG": str(default_config)}
    anonymous = push(checkout, target, "--plain-http", "--helm", key, env=env)
    assert anonymous.returncode == 1 and "(nothing was pushed)" in anonymous.stderr
    wrong = push(checkout, target, "--plain-http", "--helm", key, "--username", "pusher", "--password-stdin", stdin="x")
    assert wrong.returncode == 1 and "registry login" in wrong.stderr
    assert not [repo for repo in locked_registry.catalog() if repo.startswith(f"{key}/")]

    login = ["--username", "pusher", "--password-stdin"]
    proc = push(checkout, target, "--plain-http", "--helm", key, *login, stdin=PASSWORD + "\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("pushed ") == len(app_charts(checkout))
    assert not default_config.exists(), "the login was kept in Helm's default registry config"

    config = tmp_path / "registry.json"
    helm = Helm(key)
    helm.registry_login(
        locked_registry.host, "pusher", PASSWORD, helm.registry_args(locked_registry.host, True, config)
    )
    again = push(checkout, target, "--plain-http", "--helm", key, "--registry-config", str(config))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("with the same content") == len(app_charts(checkout))
