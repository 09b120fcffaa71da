"""Plain tests of the image builder's cache keys and errors (no root, no build)."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path

import pytest

from helm_mgmt.localcluster import images


def recipe_with_file(path: Path) -> images.Recipe:
    frontend = next(recipe for recipe in images.RECIPES if recipe.name == "frontend")
    return dataclasses.replace(frontend, files=((path, "/etc/nginx/nginx.conf", 0o644),))


STACK = {"postgres", "redis", "frontend", "backend", "migrations", "toolbox", "backend-upstream-layout"}
PLATFORM = {"traefik", "external-secrets", "cert-manager-controller", "cert-manager-acmesolver", "pebble"}
MONITORING = {
    "prometheus",
    "alertmanager",
    "postgres-exporter",
    "redis-exporter",
    "nginx-exporter",
    "prometheus-operator",
    "prometheus-config-reloader",
    "kube-state-metrics",
}


def test_every_image_has_a_fixed_tag_under_clipper_local() -> None:
    assert set(images.IMAGES) == STACK | PLATFORM | MONITORING
    for name, reference in images.IMAGES.items():
        # The published layout goes by the published name, so that the charts' defaults meet it.
        prefix = "ghcr.io/subculture-collective/clipper/" if name == "backend-upstream-layout" else "clipper.local/"
        assert reference.startswith(prefix)
        assert not reference.endswith(":latest")
    assert images.IMAGES["postgres"] == "clipper.local/postgres:17-pgvector"
    assert images.IMAGES["redis"] == "clipper.local/redis:7"
    for name in MONITORING | PLATFORM:
        tag = images.IMAGES[name].rsplit(":", 1)[1]
        assert images.IMAGES[name] == f"clipper.local/{name}:{tag}"
        assert tag.startswith("v") and tag[1].isdigit(), tag


def test_monitoring_images_are_built_only_when_asked_for() -> None:
    """The default build (helm-mgmt up, the cluster tests) is the stack's and the platform's images."""
    assert set(images.STACK_IMAGES) == STACK
    assert set(images.MONITORING_IMAGES) == MONITORING
    assert images.recipes_named() == images.STACK_RECIPES
    assert [r.name for r in images.recipes_named(images.selection(with_monitoring=True))] == list(images.IMAGES)
    assert images.selection() == (*images.STACK_IMAGES, *images.PLATFORM_IMAGES)
    assert [r.name for r in images.recipes_named(["kube-state-metrics", "redis"])] == ["redis", "kube-state-metrics"]
    with pytest.raises(images.ImageBuildError, match="no image recipe named grafana"):
        images.recipes_named(["grafana"])


def test_monitoring_images_run_as_nobody_with_upstream_entrypoints() -> None:
    recipes = {recipe.name: recipe for recipe in images.MONITORING_RECIPES}
    entrypoints = {
        "prometheus": "/bin/prometheus",
        "alertmanager": "/bin/alertmanager",
        "postgres-exporter": "/bin/postgres_exporter",
        "redis-exporter": "/bin/redis_exporter",
        "nginx-exporter": "/bin/nginx-prometheus-exporter",
        "prometheus-operator": "/bin/operator",
        "prometheus-config-reloader": "/bin/prometheus-config-reloader",
        "kube-state-metrics": "/kube-state-metrics",
    }
    for name, path in entrypoints.items():
        assert recipes[name].config.entrypoint == (path,), name
        assert recipes[name].config.user == "65534:65534", name
    # The Go programs share the backend's small base root filesystem.
    for name in ("prometheus-operator", "prometheus-config-reloader", "kube-state-metrics"):
        assert recipes[name].rootfs_name == "ca-certificates"
        assert recipes[name].products_key is not None


def test_support_files_exist() -> None:
    for recipe in images.RECIPES:
        for source, dest, _mode in recipe.files:
            assert source.is_file(), f"{recipe.name}: {source} (for {dest}) is missing"


def test_image_key_follows_file_content_but_rootfs_key_does_not(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    recipe = recipe_with_file(conf)
    key, rootfs_key = images.image_key(recipe), images.rootfs_key(recipe)
    assert images.image_key(recipe) == key
    conf.write_text("events { worker_connections 10; }\n")
    assert images.image_key(recipe) != key
    assert images.rootfs_key(recipe) == rootfs_key


def test_packages_change_both_keys(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    recipe = recipe_with_file(conf)
    other = dataclasses.replace(recipe, packages=(*recipe.packages, "curl"))
    assert images.rootfs_key(other) != images.rootfs_key(recipe)
    assert images.image_key(other) != images.image_key(recipe)


def test_a_failed_step_names_the_step_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("")
    messages: list[str] = []
    runner = images._StepRunner(images.RECIPES[0], log, messages.append)
    with pytest.raises(images.ImageBuildError) as err:
        runner.run("umoci insert", ["sh", "-c", "echo layer too big >&2; exit 3"])
    text = str(err.value)
    assert "image postgres: step 'umoci insert' failed (exit 3)" in text
    assert f"log: {log}" in text
    assert "layer too big" in text
    assert messages and messages[0].startswith("postgres: umoci insert (")


def test_archive_config_digest_reads_the_docker_archive_manifest(tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    manifest = json.dumps([{"Config": "abc123.json", "RepoTags": ["clipper.local/x:1"], "Layers": []}]).encode()
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    assert images.archive_config_digest(archive) == "sha256:abc123"


def test_published_layout_goes_by_the_backend_charts_app_version() -> None:
    """The charts' default backend image is this reference, so a default install meets the image."""
    from helm_mgmt.charts import load_charts

    app_version = load_charts()["backend"].meta["appVersion"]
    assert images.IMAGES["backend-upstream-layout"] == f"ghcr.io/subculture-collective/clipper/backend:{app_version}"
