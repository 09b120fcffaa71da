"""The monitoring images (built only when asked for), run with runc as Kubernetes would run them:
a read-only root, no capabilities, and a uid that is neither root nor the image's own."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from helm_mgmt.localcluster import images

from .containers import Container, NetNS, RunSpec, Volume, process_ids, require_runc_host, running, unpack
from .support import (
    PG_DATABASE,
    PG_PASSWORD,
    PG_SUPERUSER,
    REDIS_PASSWORD,
    PostgresServer,
    RedisServer,
    ensure_debian_packages,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.servers

# What prometheus-operator sets on the Prometheus and Alertmanager pods it makes.
OPERATOR_USER = (1000, 2000)


def any_user() -> tuple[int, int]:
    """An arbitrary non-root uid/gid that no image knows, as a pod's runAsUser/runAsGroup."""
    return random.randint(10000, 60000), random.randint(10000, 60000)


@pytest.fixture(scope="module")
def archives() -> dict[str, Path]:
    require_runc_host()
    ensure_debian_packages("runc", "umoci", "skopeo", "iproute2")
    return images.build_all(names=images.MONITORING_IMAGES)


class HostNetwork(NetNS):
    """The test's own network namespace, for an exporter that scrapes the servers fixtures on
    loopback; the exporter listens on a free loopback port that the test gives it."""

    def __init__(self) -> None:
        self.name = "host"

    @property
    def path(self) -> str:
        return f"/proc/{os.getpid()}/ns/net"

    def http_get(self, url: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def delete(self) -> None:
        pass


def version_of(name: str) -> str:
    return images.IMAGES[name].rsplit(":", 1)[1].removeprefix("v")


def test_every_monitoring_image_is_built_and_reused(archives: dict[str, Path]) -> None:
    assert list(archives) == list(images.MONITORING_IMAGES)
    for name, archive in archives.items():
        result = subprocess.run(["tar", "-xOf", str(archive), "manifest.json"], capture_output=True, check=True)
        assert json.loads(result.stdout)[0]["RepoTags"] == [images.IMAGES[name]]
    assert images.build_all(progress=lambda _msg: None, names=images.MONITORING_IMAGES) == archives


@pytest.mark.parametrize("name", images.MONITORING_IMAGES)
def test_image_config(archives: dict[str, Path], name: str) -> None:
    result = subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", "--config", f"docker-archive:{archives[name]}"],
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(result.stdout)["config"]
    recipe = next(r for r in images.RECIPES if r.name == name)
    assert config["User"] == "65534:65534"
    assert config["Entrypoint"] == list(recipe.config.entrypoint)
    assert config["WorkingDir"] == recipe.config.workdir
    assert set(config["ExposedPorts"]) == set(recipe.config.ports)
    assert config["Labels"]["org.opencontainers.image.title"] == images.IMAGES[name]


@pytest.mark.parametrize("name", images.MONITORING_IMAGES)
def test_entrypoint_reports_the_tagged_version_under_any_uid(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path, name: str
) -> None:
    """The tag is the version the program itself reports (Debian's package version, or the
    Go module's), and the program starts as a uid the image does not know."""
    recipe = next(r for r in images.RECIPES if r.name == name)
    # kube-state-metrics (cobra) has a version command instead of a flag.
    flag = "version" if name == "kube-state-metrics" else "--version"
    spec = RunSpec(args=[*recipe.config.entrypoint, flag], user=any_user())
    container = Container(bundle(name), tmp_path / "runc", netns, spec, tmp_path / f"{name}.log")
    assert container.run_to_exit(timeout=60) == 0, container.log.read_text()
    assert version_of(name) in container.log.read_text()


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  external_labels:
    replica: $(POD_NAME)
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ["127.0.0.1:9090"]
"""


def write_gzipped(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode()))
    path.chmod(0o644)


def prometheus_query(netns: NetNS, query: str) -> list[dict[str, object]]:
    status, body = netns.http_get(f"http://127.0.0.1:9090/api/v1/query?query={query}")
    return json.loads(body)["data"]["result"] if status == 200 else []


def test_prometheus_with_the_config_reloader_as_the_operator_runs_them(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    """prometheus-operator's pod: the reloader expands the gzipped config Secret into a shared
    emptyDir and asks Prometheus (--web.enable-lifecycle) to reload it after a change; Prometheus
    runs as uid 1000 with the data volume owned by the fsGroup 2000; both on a read-only root."""
    config = tmp_path / "config"
    config.mkdir()
    write_gzipped(config / "prometheus.yaml.gz", PROMETHEUS_CONFIG.format(job="first"))
    config_out = tmp_path / "config_out"
    config_out.mkdir()
    os.chown(config_out, 0, OPERATOR_USER[1])
    config_out.chmod(0o2775)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 0, OPERATOR_USER[1])
    data.chmod(0o2775)
    reloader = RunSpec(
        args=[
            "/bin/prometheus-config-reloader",
            "--listen-address=127.0.0.1:8080",
            "--reload-url=http://127.0.0.1:9090/-/reload",
            "--config-file=/etc/prometheus/config/prometheus.yaml.gz",
            "--config-envsubst-file=/etc/prometheus/config_out/prometheus.env.yaml",
        ],
        env={"POD_NAME": "prometheus-clipper-0"},
        volumes=(
            Volume(config, "/etc/prometheus/config", readonly=True),
            Volume(config_out, "/etc/prometheus/config_out"),
        ),
        user=OPERATOR_USER,
    )
    prometheus = RunSpec(
        args=[
            "/bin/prometheus",
            "--config.file=/etc/prometheus/config_out/prometheus.env.yaml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=1h",
            "--web.enable-lifecycle",
            "--web.listen-address=127.0.0.1:9090",
        ],
        volumes=(Volume(config_out, "/etc/prometheus/config_out", readonly=True), Volume(data, "/prometheus")),
        user=OPERATOR_USER,
    )
    state = tmp_path / "runc"
    with running(bundle("prometheus-config-reloader"), state, netns, reloader, tmp_path / "reloader.log") as rl:
        wait_for("the expanded config", (config_out / "prometheus.env.yaml").is_file, 30)
        assert "replica: prometheus-clipper-0" in (config_out / "prometheus.env.yaml").read_text()
        with running(bundle("prometheus"), state, netns, prometheus, tmp_path / "prometheus.log") as prom:

            def ready() -> bool:
                assert prom.status() == "running", f"prometheus exited:\n{prom.log.read_text()[-3000:]}"
                return netns.http_get("http://127.0.0.1:9090/-/ready")[0] == 200

            wait_for("Prometheus /-/ready", ready, 60)
            assert process_ids(prom.pids()[0]) == OPERATOR_USER
            assert process_ids(rl.pids()[0]) == OPERATOR_USER
            wait_for("Prometheus scraping itself", lambda: prometheus_query(netns, "up{job='first'}"), 30)
            sample = prometheus_query(netns, "up{job='first'}")[0]
            assert sample["value"][1] == "1"
            assert netns.http_get("http://127.0.0.1:8080/healthz")[0] == 200

            write_gzipped(config / "prometheus.yaml.gz", PROMETHEUS_CONFIG.format(job="second"))
            wait_for(
                "Prometheus to scrape under the reloaded config",
                lambda: prometheus_query(netns, "up{job='second'}"),
                60,
            )
            reloads = prometheus_query(netns, "prometheus_config_last_reload_successful")
            assert reloads and reloads[0]["value"][1] == "1"
            prom.signal("SIGTERM")
            prom.wait_stopped(30)
    assert any(path.name == "wal" for path in data.iterdir())
    assert {path.stat().st_uid for path in data.rglob("*")} == {OPERATOR_USER[0]}


def test_alertmanager_serves_its_default_config_under_any_uid(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    user = any_user()
    spec = RunSpec(
        # Clustering needs a non-loopback address to advertise; the namespace has only loopback.
        args=[
            "/bin/alertmanager",
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            "--cluster.listen-address=",
            "--web.listen-address=127.0.0.1:9093",
        ],
        empty_dirs=("/alertmanager",),
        user=user,
    )
    with running(bundle("alertmanager"), tmp_path / "runc", netns, spec, tmp_path / "alertmanager.log") as am:

        def ready() -> bool:
            assert am.status() == "running", f"alertmanager exited:\n{am.log.read_text()[-3000:]}"
            return netns.http_get("http://127.0.0.1:9093/-/ready")[0] == 200

        wait_for("Alertmanager /-/ready", ready, 60)
        assert process_ids(am.pids()[0]) == user
        status, body = netns.http_get("http://127.0.0.1:9093/api/v2/status")
        assert status == 200
        status_doc = json.loads(body)
        assert "discard" in status_doc["config"]["original"]
        # Debian's version, 0.28.1+ds: the upstream release, its source repacked by Debian.
        assert status_doc["versionInfo"]["version"].startswith(version_of("alertmanager"))


def scrape(port: int) -> str:
    status, body = HostNetwork().http_get(f"http://127.0.0.1:{port}/metrics")
    return body if status == 200 else ""


def run_exporter(
    bundle: Path, tmp_path: Path, args: list[str], port: int, wanted: str, env: dict[str, str] | None = None
) -> str:
    """Run an exporter beside the servers fixtures until its /metrics shows ``wanted``."""
    spec = RunSpec(args=args, env=env or {}, user=any_user())
    with running(bundle, tmp_path / "runc", HostNetwork(), spec, tmp_path / "exporter.log") as exporter:

        def shows() -> bool:
            assert exporter.status() == "running", f"the exporter exited:\n{exporter.log.read_text()[-3000:]}"
            return wanted in scrape(port)

        wait_for(f"{wanted!r} on the exporter's /metrics", shows, 60)
        return scrape(port)


def test_postgres_exporter_scrapes_a_real_postgresql(
    bundle: Callable[[str], Path], postgres_server: PostgresServer, tmp_path: Path
) -> None:
    port = free_port()
    dsn = f"postgresql://{PG_SUPERUSER}:{PG_PASSWORD}@127.0.0.1:{postgres_server.port}/{PG_DATABASE}?sslmode=disable"
    metrics = run_exporter(
        bundle("postgres-exporter"),
        tmp_path,
        ["/bin/postgres_exporter", f"--web.listen-address=127.0.0.1:{port}"],
        port,
        "\npg_up 1",
        env={"DATA_SOURCE_NAME": dsn},
    )
    assert "pg_database_size_bytes" in metrics


def test_redis_exporter_scrapes_a_real_redis(
    bundle: Callable[[str], Path], redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    server_port = redis_server.port
    metrics = run_exporter(
        bundle("redis-exporter"),
        tmp_path,
        [
            "/bin/redis_exporter",
            f"--redis.addr=redis://127.0.0.1:{server_port}",
            f"--redis.password={REDIS_PASSWORD}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port,
        "\nredis_up 1",
    )
    assert "redis_connected_clients" in metrics


def test_nginx_exporter_reads_the_frontend_images_stub_status(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    """The frontend image's real nginx and the exporter in one network namespace, as the frontend
    chart runs them in one pod: the exporter reads stub_status on 127.0.0.1:8081."""
    (tmp_path / "frontend").mkdir()
    frontend = unpack(images.build_all(names=("frontend",))["frontend"], tmp_path / "frontend")
    nginx_spec = RunSpec(empty_dirs=("/tmp",))
    with running(frontend, tmp_path / "runc-nginx", netns, nginx_spec, tmp_path / "nginx.log"):
        wait_for("nginx on port 8080", lambda: netns.http_get("http://127.0.0.1:8080/health.html")[0] == 200, 30)
        for _ in range(5):
            assert netns.http_get("http://127.0.0.1:8080/")[0] == 200
        args = ["/bin/nginx-prometheus-exporter", "--nginx.scrape-uri=http://127.0.0.1:8081/stub_status"]
        args.append("--web.listen-address=127.0.0.1:9113")
        exporter_spec = RunSpec(args=args, user=any_user())
        with running(bundle("nginx-exporter"), tmp_path / "runc", netns, exporter_spec, tmp_path / "exporter.log"):
            wait_for("nginx_up 1", lambda: "\nnginx_up 1" in netns.http_get("http://127.0.0.1:9113/metrics")[1], 60)
            metrics = netns.http_get("http://127.0.0.1:9113/metrics")[1]
    requests = next(line for line in metrics.splitlines() if line.startswith("nginx_http_requests_total "))
    # The five page loads and the health checks, plus the exporter's own reads of stub_status.
    assert float(requests.split()[1]) >= 6
    assert "\nnginx_connections_active " in metrics
