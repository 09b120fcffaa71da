"""The one wrapper through which helm-mgmt and the tests run Helm.

It knows the Helm major version, so callers ask for intent ("roll back on failure") and get the
right flag (`--atomic` in Helm 3, `--rollback-on-failure` in Helm 4).
"""

from __future__ import annotations

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
