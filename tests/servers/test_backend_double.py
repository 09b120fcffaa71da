"""The backend contract double as a host process against real PostgreSQL and Redis on loopback."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import (
    PG_DATABASE,
    PG_PASSWORD,
    PG_SUPERUSER,
    REDIS_PASSWORD,
    PostgresServer,
    RedisServer,
    ensure_debian_packages,
    free_port,
    port_open,
    wait_for,
)

pytestmark = pytest.mark.servers

SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "backend_double" / "server.py"
# Debian's interpreter, which has the double's dependencies as Debian packages (as in its image).
PYTHON = "/usr/bin/python3"
MFA_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(scope="module", autouse=True)
def _debian_python() -> None:
    ensure_debian_packages("python3", "python3-psycopg2", "python3-redis")


@pytest.fixture
def double_env(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PORT": str(free_port()),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(postgres_server.port),
        "DB_USER": PG_SUPERUSER,
        "DB_NAME": PG_DATABASE,
        "DB_PASSWORD": PG_PASSWORD,
        "DB_SSLMODE": "disable",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.port),
        "REDIS_PASSWORD": REDIS_PASSWORD,
        "REDIS_DB": "3",
        "MFA_ENCRYPTION_KEY": MFA_KEY,
        "EXPORT_DIR": str(tmp_path / "exports"),
    }


class Double:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["PORT"])
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen([PYTHON, str(SERVER)], env=env, stdout=out, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.url(path), data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def json(self, path: str, body: object = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        status, text = self.request(path, data, {"Content-Type": "application/json"} if data else None)
        return status, json.loads(text)

    def wait_listening(self) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, f"the double exited early:\n{self.log.read_text()}"
            return port_open(self.port)

        wait_for(f"the double on port {self.port}", up, 20)


@pytest.fixture
def double(double_env: dict[str, str], tmp_path: Path) -> Iterator[Double]:
    running = Double(double_env, tmp_path / "double.log")
    running.wait_listening()
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def run_to_exit(env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, str(SERVER)], env=env, capture_output=True, text=True, timeout=timeout)


def test_health_and_readiness_follow_redis(double: Double, redis_server: RedisServer) -> None:
    assert double.json("/health/live") == (200, {"status": "ok"})
    assert double.request("/health")[0] == 200
    status, body = double.json("/health/ready")
    assert (status, body) == (200, {"postgres": "ok", "redis": "ok"})

    redis_server.stop()
    try:
        status, body = double.json("/health/ready")
        assert status == 503
        assert isinstance(body, dict)
        assert body["postgres"] == "ok"
        assert body["redis"].startswith("error")
        assert double.request("/health/live")[0] == 200
        assert double.request("/health")[0] == 200
    finally:
        redis_server.start()
    wait_for("readiness to recover after Redis restarted", lambda: double.request("/health/ready")[0] == 200, 15)


def test_rows_round_trip_through_postgres(double: Double, postgres_server: PostgresServer) -> None:
    marker = f"row-{time.time_ns()}"
    status, created = double.json("/double/rows", {"value": marker})
    assert status == 201
    assert isinstance(created, dict)
    status, rows = double.json("/double/rows")
    assert status == 200
    assert {"id": created["id"], "value": marker} in rows
    stored = postgres_server.psql(f"SELECT value FROM backend_double_rows WHERE id = {int(created['id'])}")
    assert stored == marker
    assert double.json("/double/rows", {"wrong": 1})[0] == 400


def test_keys_round_trip_through_redis(double: Double, redis_server: RedisServer) -> None:
    key = f"double-test-{time.time_ns()}"
    assert double.request(f"/double/keys/{key}")[0] == 404
    assert double.request(f"/double/keys/{key}", b"hello redis")[0] == 201
    assert double.json(f"/double/keys/{key}") == (200, {"value": "hello redis"})
    # REDIS_DB=3 is honoured: the key is in database 3 only.
    assert redis_server.cli("-n", "3", "GET", key) == "hello redis"
    assert redis_server.cli("-n", "0", "EXISTS", key) == "0"


def test_whoami_names_the_connections_without_secrets(double: Double, double_env: dict[str, str]) -> None:
    status, body = double.json("/double/whoami")
    assert status == 200
    assert isinstance(body, dict)
    assert body["db_host"] == "127.0.0.1"
    assert body["db_user"] == PG_SUPERUSER
    assert body["redis_host"] == "127.0.0.1"
    assert body["redis_db"] == 3
    text = json.dumps(body)
    for secret in (PG_PASSWORD, REDIS_PASSWORD, double_env["MFA_ENCRYPTION_KEY"]):
        assert secret not in text


def test_debug_metrics_require_a_bearer_token(double: Double) -> None:
    assert double.request("/debug/metrics")[0] == 401
    assert double.request("/debug/metrics", headers={"Authorization": "Basic eDp5"})[0] == 401
    assert double.request("/debug/metrics", headers={"Authorization": "Bearer not-an-admin"})[0] == 403


def test_sigterm_stops_accepting_and_exits_within_5s(double: Double) -> None:
    # An idle keep-alive connection (as a proxy keeps) must not hold the shutdown up.
    with socket.create_connection(("127.0.0.1", double.port), timeout=5) as idle:
        idle.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
        assert idle.recv(1024).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        double.proc.send_signal(signal.SIGTERM)
        code = double.proc.wait(timeout=5)
    assert code == 0
    assert time.monotonic() - started < 5
    assert not port_open(double.port)
    assert "shutting down" in double.log.read_text()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "MFA_ENCRYPTION_KEY is required"),
        ("too-short", "MFA_ENCRYPTION_KEY must be 32 bytes"),
        (base64.b64encode(b"x" * 16).decode(), "MFA_ENCRYPTION_KEY must be 32 bytes"),
    ],
)
def test_startup_refuses_a_missing_or_wrong_mfa_key(
    double_env: dict[str, str], key: str | None, reason: str
) -> None:
    env = dict(double_env)
    env.pop("MFA_ENCRYPTION_KEY")
    if key is not None:
        env["MFA_ENCRYPTION_KEY"] = key
    result = run_to_exit(env)
    assert result.returncode != 0
    assert f"FATAL: {reason}" in result.stderr


def test_startup_accepts_a_raw_32_byte_mfa_key(double_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(double_env, MFA_ENCRYPTION_KEY="r" * 32)
    running = Double(env, tmp_path / "raw-key.log")
    try:
        running.wait_listening()
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)


def test_startup_fails_when_postgres_is_unreachable(double_env: dict[str, str]) -> None:
    env = dict(double_env, DB_PORT=str(free_port()))
    result = run_to_exit(env)
    assert result.returncode != 0
    assert f"FATAL: cannot reach PostgreSQL at 127.0.0.1:{env['DB_PORT']}" in result.stderr


def test_startup_fails_with_a_wrong_database_password(double_env: dict[str, str]) -> None:
    result = run_to_exit(dict(double_env, DB_PASSWORD="wrong"))
    assert result.returncode != 0
    assert "FATAL: cannot reach PostgreSQL" in result.stderr
    assert "password authentication failed" in result.stderr


def test_startup_fails_when_redis_is_unreachable(double_env: dict[str, str]) -> None:
    env = dict(double_env, REDIS_PORT=str(free_port()))
    result = run_to_exit(env)
    assert result.returncode != 0
    assert f"FATAL: cannot reach Redis at 127.0.0.1:{env['REDIS_PORT']}" in result.stderr


def test_startup_fails_when_export_dir_is_not_writable(double_env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_to_exit(dict(double_env, EXPORT_DIR=str(blocker / "exports")))
    assert result.returncode != 0
    assert "FATAL: EXPORT_DIR" in result.stderr
    assert "is not writable" in result.stderr
