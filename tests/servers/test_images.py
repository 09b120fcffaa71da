"""The locally built images, run with runc as their image user on a read-only root filesystem."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helm_mgmt.localcluster import clipperapp, images

from .containers import Container, NetNS, RunSpec, Volume, process_ids, require_runc_host, running
from .support import ensure_debian_packages, wait_for

pytestmark = pytest.mark.servers

PG_PASSWORD = "image-test-pg-password"
REDIS_PASSWORD = "image-test-redis-password"


@pytest.fixture(scope="module")
def archives() -> dict[str, Path]:
    require_runc_host()
    ensure_debian_packages("runc", "umoci", "skopeo", "iproute2")
    return images.build_all()


def image_config(archive: Path) -> dict[str, object]:
    result = subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", "--config", f"docker-archive:{archive}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["config"]


EXPECTED_CONFIG = {
    "postgres": {
        "User": "999:999",
        "Entrypoint": ["docker-entrypoint.sh"],
        "Cmd": ["postgres"],
        "WorkingDir": "/",
        "ExposedPorts": {"5432/tcp": {}},
        "StopSignal": "SIGINT",
    },
    "redis": {
        "User": "999:999",
        "Entrypoint": ["docker-entrypoint.sh"],
        "Cmd": ["redis-server"],
        "WorkingDir": "/data",
        "ExposedPorts": {"6379/tcp": {}},
    },
    "frontend": {
        "User": "101:101",
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Cmd": ["nginx", "-g", "daemon off;"],
        "WorkingDir": "/",
        "ExposedPorts": {"8080/tcp": {}},
    },
    "backend": {
        "User": "65532:65532",
        "Entrypoint": ["/app/api"],
        "WorkingDir": "/app",
        "ExposedPorts": {"8080/tcp": {}},
    },
    "backend-upstream-layout": {
        "User": "0:0",
        "Cmd": ["./api"],
        "WorkingDir": "/root",
        "ExposedPorts": {"8080/tcp": {}},
    },
    "migrations": {"User": "65532:65532", "Entrypoint": ["migrate"], "Cmd": ["--help"], "WorkingDir": "/"},
    "toolbox": {"User": "10001:10001", "Entrypoint": None, "Cmd": ["sh"], "WorkingDir": "/"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CONFIG))
def test_image_config(archives: dict[str, Path], name: str) -> None:
    config = image_config(archives[name])
    for key, value in EXPECTED_CONFIG[name].items():
        assert config.get(key) == value, key
    env = dict(item.split("=", 1) for item in config["Env"])
    assert "/usr/bin" in env["PATH"]
    if name == "postgres":
        assert env["PGDATA"] == "/var/lib/postgresql/data"
        assert env["PATH"].startswith("/usr/lib/postgresql/17/bin:")
    if name == "frontend":
        assert env["NGINX_PORT"] == "8080"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == images.IMAGES[name]
    recipe = next(r for r in images.RECIPES if r.name == name)
    assert labels["org.opencontainers.image.description"] == recipe.description


def test_archives_name_their_reference_and_are_reused(archives: dict[str, Path]) -> None:
    # The default build is the stack's images; the monitoring images are built only when asked for.
    assert set(archives) == set(images.STACK_IMAGES)
    for name, archive in archives.items():
        result = subprocess.run(["tar", "-xOf", str(archive), "manifest.json"], capture_output=True, check=True)
        assert json.loads(result.stdout)[0]["RepoTags"] == [images.IMAGES[name]]
        assert images.archive_config_digest(archive).startswith("sha256:")
    # A second build with the same inputs reuses every archive.
    assert images.build_all(progress=lambda _msg: None) == archives


def postgres_volumes(tmp_path: Path) -> tuple[Path, tuple[Volume, ...]]:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    os.chown(pgdata, 999, 999)
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / "01-extensions.sql").write_text(
        "CREATE EXTENSION vector; CREATE EXTENSION pgcrypto; CREATE EXTENSION pg_trgm; CREATE EXTENSION ltree;\n"
        "CREATE TABLE items (id serial PRIMARY KEY, embedding vector(3), path ltree);\n"
    )
    seed = initdb / "02-seed.sh"
    seed.write_text(
        "#!/bin/sh\nset -e\n"
        'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" '
        "-c \"INSERT INTO items (embedding, path) VALUES ('[1,2,3]', 'top.child')\"\n"
    )
    seed.chmod(0o755)
    secret = tmp_path / "pg-password"
    secret.write_text(PG_PASSWORD + "\n")
    secret.chmod(0o644)
    return pgdata, (
        Volume(pgdata, "/var/lib/postgresql/data"),
        Volume(initdb, "/docker-entrypoint-initdb.d", readonly=True),
        Volume(secret, "/run/secrets/pg-password", readonly=True),
    )


POSTGRES_ENV = {"POSTGRES_USER": "app", "POSTGRES_DB": "appdb", "POSTGRES_PASSWORD_FILE": "/run/secrets/pg-password"}
POSTGRES_EMPTY_DIRS = ("/var/run/postgresql", "/tmp")


def psql(container: Container, sql: str, password: str = PG_PASSWORD) -> subprocess.CompletedProcess[str]:
    """psql inside the container over TCP, so that password authentication is used."""
    return container.exec(
        "psql",
        "-X",
        "-tA",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-U",
        "app",
        "-d",
        "appdb",
        "-c",
        sql,
        env={"PGPASSWORD": password},
    )


def wait_postgres(container: Container) -> None:
    def ready() -> bool:
        assert container.status() == "running", f"postgres exited:\n{container.log.read_text()}"
        return container.exec("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").returncode == 0

    wait_for("PostgreSQL in its container", ready, 120)


def test_postgres_initialises_and_serves_with_password_auth(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    """As the postgres chart runs it: PGDATA below an fsGroup-owned volume, a mounted config_file."""
    volume, volumes = postgres_volumes(tmp_path)
    os.chown(volume, 0, 999)
    volume.chmod(0o2775)
    pgdata = volume / "pgdata"
    config = tmp_path / "etc-postgresql"
    config.mkdir()
    (config / "postgresql.conf").write_text(
        "hba_file = '/var/lib/postgresql/data/pgdata/pg_hba.conf'\nlisten_addresses = '*'\nmax_connections = 120\n"
    )
    spec = RunSpec(
        args=[
            "docker-entrypoint.sh",
            "postgres",
            "-c",
            "config_file=/etc/postgresql/postgresql.conf",
            "-c",
            "work_mem=8MB",
        ],
        env={**POSTGRES_ENV, "PGDATA": "/var/lib/postgresql/data/pgdata"},
        empty_dirs=POSTGRES_EMPTY_DIRS,
        volumes=(*volumes, Volume(config, "/etc/postgresql", readonly=True)),
    )
    log = tmp_path / "postgres.log"
    with running(bundle("postgres"), tmp_path / "runc", netns, spec, log) as pg:
        wait_postgres(pg)
        assert process_ids(pg.pids()[0]) == (999, 999)
        extensions = psql(pg, "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension")
        assert extensions.returncode == 0, extensions.stderr
        assert {"vector", "pgcrypto", "pg_trgm", "ltree"} <= set(extensions.stdout.strip().split(","))
        distance = psql(pg, "SELECT embedding <-> '[1,2,4]' FROM items WHERE path <@ 'top'")
        assert distance.stdout.strip() == "1", distance.stderr
        checks = psql(pg, "SELECT length(gen_random_bytes(8)), similarity('clipper', 'clipper'), current_user")
        assert checks.stdout.strip() == "8|1|app", checks.stderr
        assert psql(pg, "SHOW max_connections").stdout.strip() == "120"
        assert psql(pg, "SHOW work_mem").stdout.strip() == "8MB"
        assert psql(pg, "SHOW listen_addresses").stdout.strip() == "*"
        assert psql(pg, "SHOW password_encryption").stdout.strip() == "scram-sha-256"
        wrong = psql(pg, "SELECT 1", password="wrong")
        assert wrong.returncode != 0
        assert "password authentication failed" in wrong.stderr
        assert pg.exec("which", "psql", "pg_isready").returncode == 0
        pg.signal("SIGINT")
        pg.wait_stopped(30)
    assert (pgdata / "PG_VERSION").read_text().strip() == "17"
    assert pgdata.stat().st_uid == 999
    assert "running /docker-entrypoint-initdb.d/02-seed.sh" in log.read_text()

    # A second start finds the data initialised: no new initdb, the init scripts do not run again.
    second_log = tmp_path / "postgres-second.log"
    with running(bundle("postgres"), tmp_path / "runc", netns, spec, second_log) as pg:
        wait_postgres(pg)
        assert psql(pg, "SELECT count(*) FROM items").stdout.strip() == "1"
    assert "initialising" not in second_log.read_text()


def test_postgres_refuses_to_initialise_without_a_password(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    os.chown(pgdata, 999, 999)
    spec = RunSpec(empty_dirs=POSTGRES_EMPTY_DIRS, volumes=(Volume(pgdata, "/var/lib/postgresql/data"),))
    container = Container(bundle("postgres"), tmp_path / "runc", netns, spec, tmp_path / "pg.log")
    assert container.run_to_exit() != 0
    assert "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" in container.log.read_text()
    assert not (pgdata / "PG_VERSION").exists()


def redis_volumes(tmp_path: Path) -> tuple[Path, tuple[Volume, ...]]:
    data = tmp_path / "redis-data"
    data.mkdir()
    os.chown(data, 999, 999)
    conf = tmp_path / "redis.conf"
    conf.write_text(f"port 6379\nbind 0.0.0.0\nrequirepass {REDIS_PASSWORD}\nappendonly no\n")
    conf.chmod(0o644)
    return data, (Volume(data, "/data"), Volume(conf, "/usr/local/etc/redis/redis.conf", readonly=True))


def redis_cli(container: Container, *args: str, password: str | None = REDIS_PASSWORD) -> str:
    auth = ["--no-auth-warning", "-a", password] if password else []
    return container.exec("redis-cli", *auth, *args).stdout.strip()


def test_redis_serves_with_requirepass_from_a_config_file(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    data, volumes = redis_volumes(tmp_path)
    spec = RunSpec(args=["docker-entrypoint.sh", "/usr/local/etc/redis/redis.conf"], volumes=volumes)
    with running(bundle("redis"), tmp_path / "runc", netns, spec, tmp_path / "redis.log") as redis:
        wait_for("Redis in its container", lambda: redis_cli(redis, "PING") == "PONG", 30)
        assert "NOAUTH" in redis_cli(redis, "PING", password=None)
        assert "redis_version:7." in redis_cli(redis, "INFO", "server")
        assert redis_cli(redis, "SET", "greeting", "hello") == "OK"
        assert redis_cli(redis, "SAVE") == "OK"
        pid = redis.pids()[0]
        assert process_ids(pid) == (999, 999)
        assert os.readlink(f"/proc/{pid}/cwd").endswith("/data")
    dump = data / "dump.rdb"
    assert dump.is_file()
    assert dump.stat().st_uid == 999


def test_frontend_serves_as_uid_101_on_a_read_only_root(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    spec = RunSpec(empty_dirs=("/tmp",))
    with running(bundle("frontend"), tmp_path / "runc", netns, spec, tmp_path / "nginx.log") as nginx:
        wait_for("nginx on port 8080", lambda: netns.http_get("http://127.0.0.1:8080/health.html")[0] == 200, 30)
        status, body = netns.http_get("http://127.0.0.1:8080/")
        assert status == 200
        assert '<div id="root">' in body  # the real SPA's entry page
        pids = nginx.pids()
        assert len(pids) >= 2, "expected an nginx master and at least one worker"
        assert {process_ids(pid) for pid in pids} == {(101, 101)}
        assert nginx.exec("touch", "/usr/share/nginx/html/x").returncode != 0, "the root must be read-only"
        # What the charts' helm test runs in the toolbox image.
        probe = RunSpec(args=["sh", "-c", "wget -S -O /dev/null -T 10 http://127.0.0.1:8080/health.html"])
        toolbox = Container(bundle("toolbox"), tmp_path / "runc", netns, probe, tmp_path / "toolbox.log")
        assert toolbox.run_to_exit(timeout=60) == 0, toolbox.log.read_text()
        assert "HTTP/1.1 200" in toolbox.log.read_text()
        # What the backend's wait-for-dependencies init container runs: nc -z, open and closed port
        # (8081 is nginx's loopback stub_status for the exporter, so 8082).
        knock = RunSpec(args=["sh", "-c", "nc -z -w 2 127.0.0.1 8080 && ! nc -z -w 2 127.0.0.1 8082"])
        toolbox = Container(bundle("toolbox"), tmp_path / "runc-nc", netns, knock, tmp_path / "toolbox-nc.log")
        assert toolbox.run_to_exit(timeout=60) == 0, toolbox.log.read_text()

    # Port 80 works without root once the pod allows unprivileged ports (a safe sysctl).
    assert netns.run("sysctl", "-w", "net.ipv4.ip_unprivileged_port_start=0").returncode == 0
    spec = RunSpec(env={"NGINX_PORT": "80"}, empty_dirs=("/tmp",))
    with running(bundle("frontend"), tmp_path / "runc", netns, spec, tmp_path / "nginx80.log"):
        wait_for("nginx on port 80", lambda: netns.http_get("http://127.0.0.1/health.html")[0] == 200, 30)


def test_real_backend_and_migrations_images_against_postgres_and_redis_images(
    bundle: Callable[[str], Path], netns: NetNS, tmp_path: Path
) -> None:
    """Clipper itself, as the charts run it: the migrations image brings an empty database to the
    snapshot's newest version, then the API (uid 65532, read-only root) serves from it."""
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    os.chown(pgdata, 999, 999)
    _data, redis_vols = redis_volumes(tmp_path)
    state = tmp_path / "runc"
    # The chart's default user: migration 000087 grants to a role named clipper.
    pg_env = {"POSTGRES_USER": "clipper", "POSTGRES_DB": "clipper_db", "POSTGRES_PASSWORD": PG_PASSWORD}
    pg_spec = RunSpec(env=pg_env, empty_dirs=POSTGRES_EMPTY_DIRS, volumes=(Volume(pgdata, "/var/lib/postgresql/data"),))
    redis_spec = RunSpec(args=["docker-entrypoint.sh", "/usr/local/etc/redis/redis.conf"], volumes=redis_vols)
    url = f"postgres://clipper:{PG_PASSWORD}@127.0.0.1:5432/clipper_db?sslmode=disable"
    migrate = RunSpec(args=["migrate", "-path", "/migrations", "-database", url, "up"])
    api_spec = RunSpec(
        env={
            "PORT": "8081",
            "GIN_MODE": "release",
            "BASE_URL": "https://clipper.local",
            "DB_HOST": "127.0.0.1",
            "DB_USER": "clipper",
            "DB_NAME": "clipper_db",
            "DB_PASSWORD": PG_PASSWORD,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PASSWORD": REDIS_PASSWORD,
            "MFA_ENCRYPTION_KEY": "k" * 32,
            "EXPORT_DIR": "/exports",
        },
        empty_dirs=("/exports",),
        user=(65532, 65532),
    )
    with (
        running(bundle("postgres"), state, netns, pg_spec, tmp_path / "pg.log") as pg,
        running(bundle("redis"), state, netns, redis_spec, tmp_path / "redis.log") as redis,
    ):
        wait_postgres(pg)
        wait_for("Redis", lambda: redis_cli(redis, "PING") == "PONG", 30)
        migrations = Container(bundle("migrations"), state, netns, migrate, tmp_path / "migrate.log")
        assert migrations.run_to_exit(timeout=300) == 0, migrations.log.read_text()[-3000:]
        version = pg.exec(
            "psql",
            "-X",
            "-tA",
            "-h",
            "127.0.0.1",
            "-U",
            "clipper",
            "-d",
            "clipper_db",
            "-c",
            "SELECT version || '|' || dirty FROM schema_migrations",
            env={"PGPASSWORD": PG_PASSWORD},
        )
        assert version.stdout.strip() == f"{clipperapp.newest_migration()}|false", version.stderr
        again = Container(bundle("migrations"), state, netns, migrate, tmp_path / "migrate-again.log")
        assert again.run_to_exit(timeout=120) == 0
        assert "no change" in again.log.read_text()

        with running(bundle("backend"), state, netns, api_spec, tmp_path / "api.log") as api:

            def ready() -> bool:
                assert api.status() == "running", f"the API exited:\n{api.log.read_text()[-3000:]}"
                return netns.http_get("http://127.0.0.1:8081/health/ready")[0] == 200

            wait_for("the Clipper API to be ready", ready, 60)
            assert process_ids(api.pids()[0]) == (65532, 65532)
            status, body = netns.http_get("http://127.0.0.1:8081/api/v1/categories")
            assert status == 200
            assert len(json.loads(body)["categories"]) >= 10
            assert netns.http_get("http://127.0.0.1:8081/debug/metrics")[0] == 401
            # A server-rendered page, from the templates found in the working directory, /app (gin has
            # no HTML renderer without them).
            assert netns.http_get("http://127.0.0.1:8081/clips/best/this-week")[0] == 200
            api.signal("SIGTERM")
            assert api.wait_stopped(10) < 6
