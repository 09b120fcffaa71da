"""The pinned field tools, built from their Go modules into the versioned cache."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from helm_mgmt import debian
from helm_mgmt.gobuild import bin_dir, go_install
from helm_mgmt.paths import cache_lock, logs_dir


@dataclass(frozen=True)
class HelmRelease:
    key: str
    version: str
    # Kubernetes minor the client libraries of this Helm release were built against; Helm's own
    # Makefile bakes it in as the default kube version of `helm template` and `helm lint`.
    k8s_minor: int

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])


HELM_RELEASES: dict[str, HelmRelease] = {
    "helm3-oldest": HelmRelease("helm3-oldest", "v3.12.3", 27),
    "helm3": HelmRelease("helm3", "v3.22.0", 37),
    "helm4": HelmRelease("helm4", "v4.3.1", 37),
}
DEFAULT_HELM = "helm4"
HELM_DOCS_VERSION = "v1.14.2"


def _helm_ldflags(release: HelmRelease) -> str:
    mod = f"helm.sh/helm/v{release.major}"
    flags = [
        "-s",
        "-w",
        f"-X {mod}/internal/version.version={release.version}",
        f"-X {mod}/internal/version.gitTreeState=clean",
    ]
    if release.major == 3:
        for pkg in ("pkg/lint/rules", "pkg/chartutil"):
            flags.append(f"-X {mod}/{pkg}.k8sVersionMajor=1")
            flags.append(f"-X {mod}/{pkg}.k8sVersionMinor={release.k8s_minor}")
    return " ".join(flags)


def ensure_helm(key: str = DEFAULT_HELM) -> Path:
    release = HELM_RELEASES[key]
    return go_install(
        "helm",
        release.version,
        f"helm.sh/helm/v{release.major}/cmd/helm@{release.version}",
        "helm",
        ldflags=_helm_ldflags(release),
    )


def ensure_helm_docs() -> Path:
    return go_install(
        "helm-docs",
        HELM_DOCS_VERSION,
        f"github.com/norwoodj/helm-docs/cmd/helm-docs@{HELM_DOCS_VERSION}",
        "helm-docs",
    )


def ensure_promtool() -> Path:
    """promtool from Debian's ``prometheus`` package of this machine's release, unpacked into the
    cache; the Prometheus server is not installed."""
    version = debian.candidate_version("prometheus") or "unknown"
    exe = bin_dir("promtool", version) / "promtool"
    if exe.is_file():
        return exe
    with cache_lock(exe.parent.parent / f".{exe.parent.name}.lock"):
        if not exe.is_file():
            debian.extract_binary("prometheus", "/usr/bin/promtool", exe, logs_dir() / "promtool.log")
    return exe


def ensure_all() -> dict[str, Path]:
    tools = {key: ensure_helm(key) for key in HELM_RELEASES}
    tools["helm-docs"] = ensure_helm_docs()
    tools["promtool"] = ensure_promtool()
    return tools


def which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None
