"""import_all() against a private containerd daemon started by the test (its own root, state and socket)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_mgmt.localcluster import images

from .containers import require_runc_host
from .support import ensure_debian_packages, wait_for

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def containerd_address() -> Iterator[str]:
    require_runc_host()
    ensure_debian_packages("containerd")
    # A short path: the socket path must fit in sun_path.
    base = Path(tempfile.mkdtemp(prefix="ctrd-"))
    address = str(base / "containerd.sock")
    config = base / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{base / "root"}"\n'
        f'state = "{base / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{address}"\n'
        f'[ttrpc]\n  address = "{address}.ttrpc"\n'
        '[debug]\n  level = "warn"\n'
    )
    log = base / "containerd.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(["containerd", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert daemon.poll() is None, f"containerd exited:\n{log.read_text()}"
        return subprocess.run(["ctr", "--address", address, "version"], capture_output=True).returncode == 0

    try:
        wait_for("the test's containerd", up, 30)
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        subprocess.run(["umount", "-R", str(base / "root")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def listed(address: str) -> set[str]:
    result = subprocess.run(
        ["ctr", "-n", "k8s.io", "--address", address, "images", "ls", "-q"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_import_all_loads_every_image_once(containerd_address: str) -> None:
    archives = images.build_all()
    stack = [images.IMAGES[name] for name in images.STACK_IMAGES]
    assert images.import_all("ctr", containerd_address) == stack
    assert set(stack) <= listed(containerd_address)
    for name, archive in archives.items():
        digest = images.imported_config_digest("ctr", containerd_address, images.IMAGES[name])
        assert digest == images.archive_config_digest(archive)

    started = time.monotonic()
    messages: list[str] = []
    assert images.import_all("ctr", containerd_address, progress=messages.append) == []
    assert time.monotonic() - started < 30
    assert sum("already imported" in message for message in messages) == len(images.STACK_IMAGES)


def test_import_all_imports_only_the_images_named(containerd_address: str) -> None:
    """How the monitoring images get into the cluster (names=images.ALL_IMAGES in helm-mgmt up)."""
    reloader = images.IMAGES["prometheus-config-reloader"]
    assert images.import_all("ctr", containerd_address, names=["prometheus-config-reloader"]) == [reloader]
    others = {images.IMAGES[name] for name in images.MONITORING_IMAGES} - {reloader}
    assert reloader in listed(containerd_address)
    assert not others & listed(containerd_address)


def test_imported_config_digest_of_an_absent_image_is_none(containerd_address: str) -> None:
    assert images.imported_config_digest("ctr", containerd_address, "clipper.local/absent:none") is None
