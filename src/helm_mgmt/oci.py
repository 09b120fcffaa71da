"""`helm-mgmt package --push oci://HOST[:PORT]/PATH`: the packaged charts into an OCI registry.

Everything is checked before the first push: the reference, the Helm release's flags, the
credentials, and what the registry already holds. A chart version that is there with the same
content is left alone; one that is there with different content stops the push (a published
version never changes: bump it). Charts go leaf first, the umbrella last.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helm_mgmt.charts import Chart, _tgz_files
from helm_mgmt.helm import Helm, HelmError

# One path component of an OCI repository name (distribution spec).
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d+))?")
EXAMPLE = "oci://127.0.0.1:5000/clipper"


class PushError(RuntimeError):
    """The push cannot go ahead; nothing was pushed unless the message says so."""


@dataclass(frozen=True)
class Target:
    host: str
    path: str

    @property
    def url(self) -> str:
        return "oci://" + "/".join(part for part in (self.host, self.path) if part)

    def reference(self, chart: str) -> str:
        return f"{self.url}/{chart}"


def parse_target(url: str) -> Target:
    """``oci://HOST[:PORT][/PATH]``, or PushError saying what is wrong with it."""
    if not url.startswith("oci://"):
        raise PushError(f"--push {url!r} is not an OCI reference: give oci://HOST[:PORT]/PATH, e.g. {EXAMPLE}")
    rest = url.removeprefix("oci://").rstrip("/")
    host, _, path = rest.partition("/")
    if "@" in host:
        raise PushError(
            f"--push {url!r}: credentials do not belong in the URL; use --username with --password-stdin, "
            "or --registry-config"
        )
    if any(c in rest for c in "?#"):
        raise PushError(f"--push {url!r}: an OCI reference has no query or fragment")
    valid = _HOST.fullmatch(host)
    if not valid or (valid["port"] and not 0 < int(valid["port"]) < 65536):
        raise PushError(f"--push {url!r}: {host!r} is not HOST or HOST:PORT (e.g. {EXAMPLE})")
    for component in path.split("/") if path else []:
        if ":" in component or "@" in component:
            raise PushError(
                f"--push {url!r}: no tag or digest here; each chart is pushed as <path>/<chart>:<its version>"
            )
        if not _COMPONENT.fullmatch(component):
            raise PushError(
                f"--push {url!r}: path part {component!r} is not a valid repository name "
                "(lowercase letters and digits, separated by '.', '_', '__' or '-')"
            )
    return Target(host, path)


@contextmanager
def registry_session(
    helm: Helm,
    target: Target,
    plain_http: bool = False,
    registry_config: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[list[str]]:
    """The registry flags for Helm's OCI commands. With ``username``, log in first; without
    ``registry_config`` the credentials go to a temporary file that is gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="helm-registry-") as tmp:
        config = registry_config or (Path(tmp) / "config.json" if username else None)
        args = helm.registry_args(target.host, plain_http, config)
        if username:
            helm.registry_login(target.host, username, password or "", args)
        yield args


@dataclass(frozen=True)
class Pushed:
    chart: str
    version: str
    reference: str
    digest: str
    pushed: bool

    def describe(self) -> str:
        if self.pushed:
            return f"pushed {self.chart} {self.version} to {self.reference}: {self.digest}"
        return f"{self.chart} {self.version} is already in {self.reference} with the same content: {self.digest}"


def push_all(helm: Helm, packages: list[tuple[Chart, Path]], target: Target, registry_args: list[str]) -> list[Pushed]:
    """Push ``packages`` (in the order given: leaf charts first) unless the registry has them.
    A version already there with other content stops everything before the first push."""
    plan: list[tuple[Chart, Path, Pushed | None]] = []
    conflicts = []
    with tempfile.TemporaryDirectory(prefix="helm-pull-") as tmp:
        for chart, package in packages:
            reference = target.reference(chart.name)
            try:
                there = helm.pull(reference, str(chart.version), Path(tmp), registry_args)
            except HelmError as err:
                raise PushError(f"cannot read {reference} (nothing was pushed): {err.stderr.strip()}") from err
            if there is None:
                plan.append((chart, package, None))
            elif _tgz_files(there[0].read_bytes()) == _tgz_files(package.read_bytes()):
                plan.append((chart, package, Pushed(chart.name, str(chart.version), reference, there[1], False)))
            else:
                conflicts.append(f"{chart.name} {chart.version}")
    if conflicts:
        raise PushError(
            f"{target.url} already holds {', '.join(conflicts)} with different content, and a published version "
            "never changes: raise the chart's version and record it (`./helm/helm-mgmt.sh package --record`). "
            "Nothing was pushed."
        )
    results = []
    for chart, package, done in plan:
        if done is None:
            try:
                digest = helm.push(package, target.url, registry_args)
            except HelmError as err:
                before = ", ".join(f"{r.chart} {r.version}" for r in results if r.pushed) or "nothing"
                raise PushError(
                    f"pushing {chart.name} {chart.version} failed (pushed before it: {before}): {err.stderr.strip()}"
                ) from err
            done = Pushed(chart.name, str(chart.version), target.reference(chart.name), digest, True)
        results.append(done)
    return results
