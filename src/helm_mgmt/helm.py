"""The one wrapper through which helm-mgmt and the tests run Helm.

It knows the Helm major version, so callers ask for intent ("roll back on failure") and get the
right flag (`--atomic` in Helm 3, `--rollback-on-failure` in Helm 4).
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helm_mgmt.toolchain import DEFAULT_HELM, HELM_RELEASES, ensure_helm


class HelmError(RuntimeError):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"helm {' '.join(args)} failed ({returncode}):\n{stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


class RegistryError(RuntimeError):
    """An OCI registry operation this Helm release cannot do as asked."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name[:port]``, ``[v6]:port``) is this machine: `localhost` or a loopback address."""
    name = host.rsplit("]", 1)[0].lstrip("[") if host.startswith("[") else host.rsplit(":", 1)[0]
    try:
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class Helm:
    key: str = DEFAULT_HELM

    @property
    def binary(self) -> Path:
        return ensure_helm(self.key)

    @property
    def major(self) -> int:
        return HELM_RELEASES[self.key].major

    @property
    def version(self) -> str:
        return HELM_RELEASES[self.key].version

    def run(
        self, args: list[str], check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise HelmError(args, proc.returncode, proc.stderr or proc.stdout)
        return proc

    def start(self, args: list[str]) -> subprocess.Popen[str]:
        """Start Helm without waiting for it; read its output with ``communicate()``."""
        return subprocess.Popen([str(self.binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def template(
        self,
        chart: Path,
        values_files: Iterable[Path] = (),
        values: Mapping[str, Any] | None = None,
        release: str = "clipper",
        namespace: str = "clipper",
        kube_version: str | None = None,
        extra: Iterable[str] = (),
    ) -> str:
        args = ["template", release, str(chart), "--namespace", namespace]
        if kube_version:
            args += ["--kube-version", kube_version]
        with _values_args(values_files, values) as vargs:
            return self.run([*args, *vargs, *extra]).stdout

    def lint(
        self,
        chart: Path,
        values_files: Iterable[Path] = (),
        values: Mapping[str, Any] | None = None,
        strict: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        args = ["lint", str(chart), "--namespace", "clipper"]
        if strict:
            args.append("--strict")
        with _values_args(values_files, values) as vargs:
            return self.run([*args, *vargs], check=False)

    @property
    def chart_owns_fields(self) -> list[str]:
        """Flags for upgrade and rollback that let the chart's rendered fields win. Helm 4 applies
        server-side, so a field another manager changed since (`kubectl rollout undo`, `kubectl set
        image`) is a conflict that fails the upgrade, and the rollback after it too; Helm 3's
        three-way merge replaces such a field. With `--force-conflicts` both majors do the same."""
        return ["--force-conflicts"] if self.major >= 4 else []

    @property
    def has_plain_http_flag(self) -> bool:
        """`--plain-http` (push, pull, show, template, install, registry login) came with Helm 3.13.
        Helm 3.12 talks plain HTTP to a loopback registry by itself, and HTTPS to any other."""
        major, minor = (int(part) for part in self.version.lstrip("v").split(".")[:2])
        return (major, minor) >= (3, 13)

    def registry_args(self, host: str, plain_http: bool = False, registry_config: Path | None = None) -> list[str]:
        """The flags every OCI command (push, pull, show, login) needs for the registry at ``host``."""
        args = []
        if plain_http and self.has_plain_http_flag:
            args.append("--plain-http")
        elif plain_http and not is_loopback(host):
            raise RegistryError(
                f"Helm {self.version} has no --plain-http: it uses plain HTTP only for a loopback registry, "
                f"and {host} is not one; use Helm 3.13 or newer (--helm helm3 or --helm helm4)"
            )
        if registry_config is not None:
            args += ["--registry-config", str(registry_config)]
        return args

    def registry_login(self, host: str, username: str, password: str, registry_args: list[str]) -> None:
        """`helm registry login`, the password on stdin (never on a command line)."""
        args = ["registry", "login", host, "--username", username, "--password-stdin", *registry_args]
        proc = subprocess.run(
            [str(self.binary), *args], input=password + "\n", capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise HelmError(args, proc.returncode, proc.stderr or proc.stdout)

    def push(self, package: Path, remote: str, registry_args: list[str]) -> str:
        """Push a packaged chart to ``oci://host/path``; return the manifest digest Helm reports
        (Helm 4 prints it on stdout, Helm 3 on stderr)."""
        proc = self.run(["push", str(package), remote, *registry_args])
        return _reported_digest(proc)

    def pull(self, reference: str, version: str, dest: Path, registry_args: list[str]) -> tuple[Path, str] | None:
        """Pull ``reference`` at ``version`` into ``dest``: (archive, manifest digest), or None when the
        registry has no such chart or version."""
        args = ["pull", reference, "--version", version, "--destination", str(dest), *registry_args]
        proc = self.run(args, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            if last.endswith(": not found"):
                return None
            raise HelmError(args, proc.returncode, proc.stderr or proc.stdout)
        archive = dest / f"{reference.rsplit('/', 1)[-1]}-{version}.tgz"
        return archive, _reported_digest(proc)


def _reported_digest(proc: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"^Digest: (sha256:[0-9a-f]{64})$", proc.stdout + "\n" + proc.stderr, re.M)
    if not found:
        raise HelmError(proc.args[1:], proc.returncode, f"no digest in Helm's output:\n{proc.stdout}{proc.stderr}")
    return found.group(1)


class _values_args:
    """Context manager turning value files and an inline mapping into ``-f`` arguments."""

    def __init__(self, files: Iterable[Path], values: Mapping[str, Any] | None) -> None:
        self.files = [str(f) for f in files]
        self.values = values
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> list[str]:
        args: list[str] = []
        for f in self.files:
            args += ["-f", f]
        if self.values is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="helm-values-")
            path = Path(self._tmp.name) / "values.yaml"
            path.write_text(yaml.safe_dump(dict(self.values), sort_keys=False))
            args += ["-f", str(path)]
        return args

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]
