"""Run a locally built image with runc, as Kubernetes would: image user, read-only root, no capabilities.

The archive that ``ctr images import`` gets is converted back to an OCI layout with skopeo and
unpacked by umoci, whose runtime bundle carries the image's User, Entrypoint, Cmd, Env and
WorkingDir. Containers join a network namespace made by the test, so only its loopback is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .support import wait_for

# umoci's runtime spec for the image, kept because each container rewrites config.json.
IMAGE_SPEC = "image-config.json"


@dataclass
class Volume:
    source: Path
    destination: str
    readonly: bool = False


@dataclass
class RunSpec:
    args: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # Writable directories given to the container like Kubernetes emptyDirs (mode 0777 bind mounts).
    empty_dirs: tuple[str, ...] = ()
    volumes: tuple[Volume, ...] = ()
    # (uid, gid) instead of the image's User, like a pod's runAsUser/runAsGroup.
    user: tuple[int, int] | None = None


def unpack(archive: Path, dest: Path) -> Path:
    """The runc bundle (config.json + rootfs) of a docker-archive, via an OCI layout."""
    layout = dest / "oci"
    bundle = dest / "bundle"
    for cmd in (
        ["skopeo", "--insecure-policy", "copy", f"docker-archive:{archive}", f"oci:{layout}:test"],
        ["umoci", "unpack", "--image", f"{layout}:test", str(bundle)],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stderr}"
    (bundle / IMAGE_SPEC).write_text((bundle / "config.json").read_text())
    return bundle


class NetNS:
    """A network namespace of our own with only loopback up."""

    def __init__(self) -> None:
        self.name = f"clipper-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"], check=True)

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"

    def run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True)

    def http_get(self, url: str) -> tuple[int, str]:
        """Status and body of GET url from inside the namespace (0 when nothing answers)."""
        script = (
            "import sys, urllib.request, urllib.error\n"
            "try:\n"
            "    r = urllib.request.urlopen(sys.argv[1], timeout=5)\n"
            "except urllib.error.HTTPError as e:\n"
            "    r = e\n"
            "except OSError:\n"
            "    print(0); sys.exit()\n"
            "print(r.status); sys.stdout.write(r.read().decode())\n"
        )
        result = self.run(sys.executable, "-c", script, url)
        status, _, body = result.stdout.partition("\n")
        return int(status or 0), body

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


class Container:
    def __init__(self, bundle: Path, state: Path, netns: NetNS, spec: RunSpec, log: Path) -> None:
        self.id = f"clipper-test-{uuid.uuid4().hex[:8]}"
        self.bundle = bundle
        self.state = state
        self.log = log
        self.config = json.loads((bundle / IMAGE_SPEC).read_text())
        self._write_config(netns, spec)

    def _write_config(self, netns: NetNS, spec: RunSpec) -> None:
        cfg = json.loads(json.dumps(self.config))
        cfg["root"]["readonly"] = True
        process = cfg["process"]
        process["terminal"] = False
        process["noNewPrivileges"] = True
        process["capabilities"] = {kind: [] for kind in ("bounding", "effective", "inheritable", "permitted")}
        if spec.args is not None:
            process["args"] = spec.args
        if spec.user is not None:
            process["user"] = {"uid": spec.user[0], "gid": spec.user[1]}
        env = dict(item.split("=", 1) for item in process.get("env", []))
        env.update(spec.env)
        process["env"] = [f"{key}={value}" for key, value in env.items()]
        volumes = list(spec.volumes)
        for index, path in enumerate(spec.empty_dirs):
            source = self.bundle.parent / f"{self.id}-emptydir-{index}"
            source.mkdir()
            source.chmod(0o777)
            volumes.append(Volume(source, path))
        for volume in volumes:
            cfg["mounts"].append(
                {
                    "destination": volume.destination,
                    "type": "bind",
                    "source": str(volume.source),
                    "options": ["rbind", "ro" if volume.readonly else "rw"],
                }
            )
        namespaces = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "network"]
        cfg["linux"]["namespaces"] = [*namespaces, {"type": "network", "path": netns.path}]
        (self.bundle / "config.json").write_text(json.dumps(cfg, indent=1))

    def runc(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runc", "--root", str(self.state), *args], capture_output=True, text=True, timeout=timeout
        )

    def start(self) -> None:
        with self.log.open("a") as out:
            result = subprocess.run(
                ["runc", "--root", str(self.state), "run", "--detach", "--bundle", str(self.bundle), self.id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=60,
            )
        assert result.returncode == 0, f"runc run failed:\n{self.log.read_text()}"

    def run_to_exit(self, timeout: float = 120) -> int:
        """Run in the foreground until the container's process exits; its exit code."""
        with self.log.open("a") as out:
            result = subprocess.run(
                ["runc", "--root", str(self.state), "run", "--bundle", str(self.bundle), self.id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=timeout,
            )
        self.runc("delete", "--force", self.id)
        return result.returncode

    def exec(self, *cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run cmd inside the container as the image user, with the image's environment."""
        env_args = [f"--env={key}={value}" for key, value in (env or {}).items()]
        return self.runc("exec", *env_args, self.id, *cmd)

    def status(self) -> str:
        result = self.runc("state", self.id)
        return json.loads(result.stdout)["status"] if result.returncode == 0 else "absent"

    def pids(self) -> list[int]:
        result = self.runc("ps", "--format", "json", self.id)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def signal(self, name: str) -> None:
        result = self.runc("kill", self.id, name)
        assert result.returncode == 0, result.stderr

    def wait_stopped(self, timeout: float) -> float:
        started = time.monotonic()
        wait_for(f"container {self.id} to stop", lambda: self.status() in ("stopped", "absent"), timeout)
        return time.monotonic() - started

    def remove(self) -> None:
        if self.status() == "running":
            self.runc("kill", self.id, "KILL")
            wait_for(f"container {self.id} to die", lambda: self.status() != "running", 10)
        self.runc("delete", "--force", self.id)


def process_ids(pid: int) -> tuple[int, int]:
    """Real uid and gid of a host process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return int(fields["Uid"][0]), int(fields["Gid"][0])


@contextmanager
def running(bundle: Path, state: Path, netns: NetNS, spec: RunSpec, log: Path) -> Iterator[Container]:
    container = Container(bundle, state, netns, spec, log)
    container.start()
    try:
        yield container
    finally:
        container.remove()


def require_runc_host() -> None:
    if os.geteuid() != 0:
        pytest.skip("building images and running runc containers needs root")
