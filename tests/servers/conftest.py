"""Session fixtures: real PostgreSQL and Redis servers on loopback, from Debian's packages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .support import PG_DATABASE, PostgresServer, RedisServer, ensure_debian_packages


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    ensure_debian_packages("postgresql")
    server = PostgresServer()
    try:
        server.start()
        server.psql(f"CREATE DATABASE {PG_DATABASE}", database="postgres")
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    ensure_debian_packages("redis-server")
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is installed but not in PATH")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
