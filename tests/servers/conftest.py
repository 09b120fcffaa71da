"""Session fixtures: real PostgreSQL and Redis servers on loopback, from Debian's packages."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .containers import NetNS, unpack
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


@pytest.fixture(scope="module")
def bundle(archives: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The runc bundle of an image, unpacked once per module from the archive ctr would import
    (each module's ``archives`` fixture says which images it built)."""
    unpacked: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in unpacked:
            unpacked[name] = unpack(archives[name], tmp_path_factory.mktemp(name))
        return unpacked[name]

    return get


@pytest.fixture
def netns() -> Iterator[NetNS]:
    ns = NetNS()
    yield ns
    ns.delete()
