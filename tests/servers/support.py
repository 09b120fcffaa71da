"""Helpers of the servers tests: Debian packages, free ports, and real PostgreSQL and Redis on loopback."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helm_mgmt import debian
from helm_mgmt.paths import logs_dir

PG_SUPERUSER = "clipper"
PG_PASSWORD = "pg-secret-for-tests"
PG_DATABASE = "clipper_db"
REDIS_PASSWORD = "redis-secret-for-tests"


def ensure_debian_packages(*packages: str) -> None:
    """Install missing Debian packages (as root), or fail the test saying what is missing."""
    absent = debian.missing(packages)
    if not absent:
        return
    if os.geteuid() != 0:
        pytest.fail(f"Debian packages {' '.join(absent)} are missing and installing them needs root")
    try:
        debian.install(absent, logs_dir() / "servers-apt.log")
    except debian.DebianInstallError as err:
        pytest.fail(str(err))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: object, timeout: float) -> None:
    """Poll ``check()`` until it returns true; fail naming ``what`` after ``timeout`` seconds."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        pytest.fail("the postgresql package is installed but no /usr/lib/postgresql/*/bin/postgres exists")
    return candidates[-1].parent


class PostgresServer:
    """A throw-away cluster; as root it runs as the Debian 'postgres' user, which refuses root."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        # Not under pytest's temporary directory, which only root can enter.
        self.base = Path(tempfile.mkdtemp(prefix="clipper-test-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.prefix: list[str] = []
        self.sockets.mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.base, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        pwfile = self.base / "pwfile"
        pwfile.write_text(PG_PASSWORD + "\n")
        pwfile.chmod(0o644)
        result = subprocess.run(
            [
                *self.prefix,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "--username",
                PG_SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        if result.returncode != 0:
            pytest.fail(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.sockets}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(f"PostgreSQL on port {self.port} (log {self.log})", self.ready, 30)

    def ready(self) -> bool:
        probe = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe).returncode == 0

    def psql(self, sql: str, database: str = PG_DATABASE) -> str:
        result = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-tA",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                PG_SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PGPASSWORD=PG_PASSWORD),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


class RedisServer:
    """redis-server with a password and no persistence; stop() and start() keep the same port."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.base = base
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.base / "redis.log").open("a") as out:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--requirepass",
                    REDIS_PASSWORD,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.base),
                    "--daemonize",
                    "no",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(f"Redis on port {self.port}", lambda: self.cli("PING") == "PONG", 15)

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "--no-auth-warning", "-a", REDIS_PASSWORD, *args],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
