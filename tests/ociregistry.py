"""A private OCI registry for tests: Debian's docker-registry (distribution 2.8) serving 127.0.0.1 on a
free port from its own storage and config (never the system service), optionally with htpasswd
users; and a copy of this checkout's tool and charts to push from, so that `package` (which rebuilds
the dependency archives and writes dist/) changes the copy, never the checkout."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from servers.support import ensure_debian_packages, free_port, wait_for

from helm_mgmt import debian
from helm_mgmt.paths import REPO_ROOT

# apache2-utils brings htpasswd: the registry accepts only bcrypt password hashes.
PACKAGES = ("docker-registry", "apache2-utils")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def ensure_installed() -> None:
    """Install the packages; if that installed the registry, stop the system service the package
    starts where the machine's policy lets it (the tests run their own)."""
    fresh = "docker-registry" in debian.missing(["docker-registry"])
    ensure_debian_packages(*PACKAGES)
    if not fresh:
        return
    if Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "stop", "docker-registry"], capture_output=True, check=False)
    elif Path("/etc/init.d/docker-registry").is_file():
        subprocess.run(["/etc/init.d/docker-registry", "stop"], capture_output=True, check=False)


class Registry:
    def __init__(self, base: Path, users: dict[str, str] | None = None) -> None:
        self.base = base
        self.users = users or {}
        self.port = free_port()
        self.log = base / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"oci://{self.host}"

    def start(self) -> None:
        config: dict = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.base / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if self.users:
            htpasswd = self.base / "htpasswd"
            lines = []
            for user, password in self.users.items():
                made = subprocess.run(
                    ["htpasswd", "-niB", user], input=password, capture_output=True, text=True, check=True
                )
                lines.append(made.stdout.strip())
            htpasswd.write_text("\n".join(lines) + "\n")
            config["auth"] = {"htpasswd": {"realm": "clipper-tests", "path": str(htpasswd)}}
        path = self.base / "config.yml"
        path.write_text(yaml.safe_dump(config))
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(path)], stdout=out, stderr=subprocess.STDOUT)
        wait_for(f"docker-registry on {self.host} (log {self.log})", lambda: self.request("/v2/")[0] in (200, 401), 30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def request(self, path: str, method: str = "GET", accept: str = "") -> tuple[int, dict[str, str], bytes]:
        """One call to the registry's HTTP API (as its first user, if it has users)."""
        req = urllib.request.Request(f"http://{self.host}{path}", method=method)
        if accept:
            req.add_header("Accept", accept)
        if self.users:
            user, password = next(iter(self.users.items()))
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()
        except OSError:
            return 0, {}, b""

    def catalog(self) -> list[str]:
        return json.loads(self.request("/v2/_catalog")[2])["repositories"]

    def tags(self, repository: str) -> list[str]:
        status, _, body = self.request(f"/v2/{repository}/tags/list")
        return sorted(json.loads(body)["tags"] or []) if status == 200 else []

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        status, headers, _ = self.request(f"/v2/{repository}/manifests/{tag}", method="HEAD", accept=OCI_MANIFEST)
        return headers.get("Docker-Content-Digest") if status == 200 else None


@contextmanager
def running(base: Path, users: dict[str, str] | None = None) -> Iterator[Registry]:
    ensure_installed()
    registry = Registry(base, users)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


def tool_checkout(dest: Path) -> Path:
    """A copy of this checkout's ``src/`` and ``helm/`` under ``dest``; returns ``dest``."""
    for part in ("src", "helm"):
        shutil.copytree(REPO_ROOT / part, dest / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_tool(
    checkout: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """helm-mgmt from the copy (its ``REPO_ROOT`` is the copy), as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "helm_mgmt.cli", *args],
        cwd=checkout,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(checkout / "src"), **(env or {})},
    )
