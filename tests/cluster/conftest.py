"""Fixtures for tests that need the local Kubernetes cluster (``helm-mgmt cluster up``)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

import probeimage
import pytest
from stackenv import LOCAL_VALUES, RELEASE, STACK_NAMESPACE, stack_value_args

from helm_mgmt import testrun
from helm_mgmt.gobuild import bin_dir
from helm_mgmt.helm import Helm
from helm_mgmt.localcluster import components, containerd, ensure_up, images
from helm_mgmt.stack import (
    MONITORING_NAMESPACE,
    install_monitoring,
    prepare_cluster,
    restricted_namespace,
    wait_all_ready,
)

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here ``cluster``; the stack's uninstall and the cluster's tear-down run
    behind all other cluster tests."""
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)
    # Cluster tests first, so the tear-down frees the machine for whatever the same run does next.
    items.sort(
        key=lambda item: (
            item.get_closest_marker("cluster") is None,
            item.get_closest_marker("cluster_down") is not None,
            item.get_closest_marker("stack_uninstall") is not None,
        )
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Path]:
    """The kubeconfig of a running, healthy cluster (started if needed). The images start building
    first, in the background, so that they overlap with building Kubernetes: Clipper's (built from
    its source), then, at a lower CPU priority while the first tests run, the monitoring stack's
    that test_monitoring.py needs. Once the cluster is up and Clipper's images are built,
    `helm-mgmt test --all` is told that its offline phase may start beside these tests."""
    stack_built = threading.Event()
    images.build_in_background(names=images.selection(), later=images.MONITORING_IMAGES, first_built=stack_built)
    kubeconfig = ensure_up()
    stack_built.wait()
    testrun.builds_done()
    os.environ["KUBECONFIG"] = str(kubeconfig)
    yield kubeconfig


@pytest.fixture(scope="session")
def helm(cluster: Path) -> Helm:
    return Helm("helm4")


@pytest.fixture(scope="session")
def monitoring(cluster: Path, helm: Helm) -> str:
    """The monitoring chart with its local values (the Prometheus operator and its CRDs among them):
    its namespace."""
    images.build_all(names=images.MONITORING_IMAGES)
    images.import_all("ctr", str(containerd.socket_path()), names=images.MONITORING_IMAGES)
    install_monitoring(helm)
    return MONITORING_NAMESPACE


@pytest.fixture(scope="session")
def stack(cluster: Path, helm: Helm) -> str:
    """The umbrella with the local values (the real Clipper backend, migrations and frontend built
    from the application's source), installed into a namespace that enforces Pod Security
    `restricted`, every workload Ready; the load generator's pods are admitted to the backend and
    frontend (bench/values-admit-loadgen.yaml). test_stack.py uninstalls it last."""
    prepare_cluster()
    restricted_namespace(STACK_NAMESPACE)
    helm.run(
        ["upgrade", "--install", RELEASE, str(LOCAL_VALUES.parents[1]), "-n", STACK_NAMESPACE, *stack_value_args()],
        timeout=600,
    )
    wait_all_ready(STACK_NAMESPACE, RELEASE, timeout=900)
    return STACK_NAMESPACE


@pytest.fixture(scope="session")
def kubectl(cluster: Path) -> Kubectl:
    """Run the cluster's own kubectl against it; ``check`` raises with stderr on failure."""
    binary = bin_dir("kubernetes", components.KUBERNETES_VERSION) / "kubectl"

    def run(
        *args: str, check: bool = True, stdin: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "KUBECONFIG": str(cluster)},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def probe_image(cluster: Path) -> str:
    """The tiny test image (idle / lookup / write), imported into the cluster's containerd."""
    containerd.import_image(probeimage.archive(), probeimage.IMAGE)
    return probeimage.IMAGE


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test (unique per run), deleted afterwards."""
    name = "t-" + request.node.name.replace("_", "-")[:44].strip("-").lower() + "-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


PortForward = Callable[[str, str, int], AbstractContextManager[int]]


@pytest.fixture(scope="session")
def port_forward(cluster: Path) -> PortForward:
    """``with port_forward(namespace, "svc/x", 8080) as local_port:`` forwards 127.0.0.1:<local_port>
    to the target's port for the duration of the block."""
    binary = bin_dir("kubernetes", components.KUBERNETES_VERSION) / "kubectl"

    @contextmanager
    def forward(namespace: str, target: str, port: int) -> Iterator[int]:
        proc = subprocess.Popen(
            [str(binary), "port-forward", "-n", namespace, "--address", "127.0.0.1", target, f":{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "KUBECONFIG": str(cluster)},
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            local = re.search(rf"127\.0\.0\.1:(\d+) -> {port}", first)
            if not local:
                # stdout closes a moment before the process exits: wait for it, then read why.
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
                why = proc.stderr.read() if proc.poll() is not None else ""
                raise AssertionError(f"port-forward said: {first} {why}")
            yield int(local.group(1))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    return forward
