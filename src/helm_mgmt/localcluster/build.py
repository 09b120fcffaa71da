"""Build the cluster's Go programs from the module proxy through generated wrapper modules.

A wrapper module lives under ``<cache>/wrappers/<name>-<version>/`` (never in the repository).
All commands of one wrapper are compiled by a single ``go build`` so they share compilation.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from helm_mgmt.gobuild import BuildError, bin_dir, run_go
from helm_mgmt.localcluster import components as c
from helm_mgmt.paths import cache_root, logs_dir

STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", re.MULTILINE)


def _download(module: str, version: str, log: Path) -> str:
    """Fetch ``module@version`` into the shared module cache; return its escaped path there."""
    wrappers = cache_root() / "wrappers"
    wrappers.mkdir(parents=True, exist_ok=True)
    run_go(["mod", "download", f"{module}@{version}"], wrappers, log)
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)


def _module_file(module: str, version: str, log: Path) -> str:
    """The go.mod that ``module@version`` publishes."""
    escaped = _download(module, version, log)
    return (cache_root() / "go" / "mod" / "cache" / "download" / escaped / "@v" / f"{version}.mod").read_text()


def module_dir(module: str, version: str) -> Path:
    """The extracted source of ``module@version`` in the shared module cache."""
    log = logs_dir() / f"download-{module.replace('/', '_')}-{version}.log"
    return cache_root() / "go" / "mod" / f"{_download(module, version, log)}@{version}"


def build_wrapped(
    name: str,
    version: str,
    requires: dict[str, str],
    packages: dict[str, str],
    ldflags: str = "",
    replaces: dict[str, str] | None = None,
    excludes: dict[str, str] | None = None,
    sources: Path | None = None,
) -> dict[str, Path]:
    """Build ``packages`` (binary name -> package path) in a wrapper module requiring ``requires``.

    ``replaces`` maps a module path to the right-hand side of its replace directive; ``excludes``
    a module path to the version excluded. Only the main module's replace and exclude directives
    count, so a program whose go.mod has some needs them repeated here. ``sources`` is a folder of
    our own Go packages copied into the wrapper (import path ``clipper-kit.local/wrappers/<name>/...``);
    ``version`` must then change with them.
    """
    target = bin_dir(name, version)
    exes = {binary: target / binary for binary in packages}
    if all(exe.is_file() for exe in exes.values()):
        return exes
    log = logs_dir() / f"build-{name}-{version}.log"
    log.write_text("")
    wrapper = cache_root() / "wrappers" / f"{name}-{version}"
    wrapper.mkdir(parents=True, exist_ok=True)
    lines = [f"module clipper-kit.local/wrappers/{name}", "", "go 1.24.0", ""]
    lines += [f"require {mod} {ver}" for mod, ver in requires.items()]
    lines += [f"replace {mod} => {target}" for mod, target in (replaces or {}).items()]
    lines += [f"exclude {mod} {ver}" for mod, ver in (excludes or {}).items()]
    (wrapper / "go.mod").write_text("\n".join(lines) + "\n")
    if sources is not None:
        shutil.copytree(sources, wrapper, dirs_exist_ok=True)
    started = time.monotonic()
    print(f"building {name} {version}: {', '.join(packages)} (log: {log})", file=sys.stderr, flush=True)
    target.mkdir(parents=True, exist_ok=True)
    staging = wrapper / "out"
    staging.mkdir(exist_ok=True)
    flags = ["-trimpath", "-ldflags", f"-s -w {ldflags}".strip()]
    if len(packages) == 1:
        ((binary, package),) = packages.items()
        run_go(["build", *flags, "-o", str(staging / binary), package], wrapper, log)
    else:
        run_go(["build", *flags, "-o", str(staging) + "/", *packages.values()], wrapper, log)
    for binary, exe in exes.items():
        (staging / binary).replace(exe)
    print(f"built {name} {version} in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return exes


def _staging_replacements(log: Path) -> dict[str, str]:
    """Each staging module at its published version; the few never published become empty stubs."""
    wrappers = cache_root() / "wrappers"
    replaces = {}
    for module in STAGING_REPLACE.findall(_module_file("k8s.io/kubernetes", c.KUBERNETES_VERSION, log)):
        try:
            run_go(["mod", "download", f"{module}@{c.STAGING_VERSION}"], wrappers, log)
            replaces[module] = f"{module} {c.STAGING_VERSION}"
        except BuildError:
            stub = wrappers / "stubs" / module
            stub.mkdir(parents=True, exist_ok=True)
            (stub / "go.mod").write_text(f"module {module}\n\ngo 1.24.0\n")
            replaces[module] = str(stub)
    return replaces


def kubernetes() -> dict[str, Path]:
    """kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy and kubectl."""
    log = logs_dir() / f"build-kubernetes-{c.KUBERNETES_VERSION}.log"
    replaces = _staging_replacements(log)
    version = c.KUBERNETES_VERSION
    major, minor = version.lstrip("v").split(".")[:2]
    ldflags = " ".join(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in (
            ("gitVersion", version),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("buildDate", "1970-01-01T00:00:00Z"),
        )
    )
    return build_wrapped(
        "kubernetes",
        version,
        requires={"k8s.io/kubernetes": version},
        packages={cmd: f"k8s.io/kubernetes/cmd/{cmd}" for cmd in c.KUBE_COMMANDS},
        ldflags=ldflags,
        replaces=replaces,
    )


def etcd() -> Path:
    return build_wrapped(
        "etcd",
        c.ETCD_VERSION,
        requires={"go.etcd.io/etcd/server/v3": c.ETCD_VERSION},
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
    )["etcd"]


def shared_client_libraries() -> dict[str, str]:
    """Client libraries at the cluster's own version, so their compiled packages are shared."""
    return {mod: c.STAGING_VERSION for mod in ("k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go")}


def coredns() -> Path:
    return build_wrapped(
        "coredns",
        c.COREDNS_VERSION,
        requires={"github.com/coredns/coredns": c.COREDNS_VERSION, **shared_client_libraries()},
        packages={"coredns": "github.com/coredns/coredns"},
    )["coredns"]


def metrics_server() -> Path:
    return build_wrapped(
        "metrics-server",
        c.METRICS_SERVER_VERSION,
        requires={
            "sigs.k8s.io/metrics-server": c.METRICS_SERVER_VERSION,
            **shared_client_libraries(),
            **{mod: c.STAGING_VERSION for mod in ("k8s.io/apiserver", "k8s.io/component-base", "k8s.io/metrics")},
        },
        packages={"metrics-server": "sigs.k8s.io/metrics-server/cmd/metrics-server"},
        ldflags=f"-X k8s.io/client-go/pkg/version.gitVersion={c.METRICS_SERVER_VERSION}",
    )["metrics-server"]


def kube_router() -> Path:
    """kube-router, of which the local cluster runs only the NetworkPolicy firewall."""
    module = "github.com/cloudnativelabs/kube-router/v2"
    return build_wrapped(
        "kube-router",
        c.KUBE_ROUTER_VERSION,
        # It builds against the cluster's client libraries too, so their compiled packages are shared.
        requires={module: c.KUBE_ROUTER_VERSION, **shared_client_libraries()},
        packages={"kube-router": f"{module}/cmd/kube-router"},
        ldflags=f"-X {module}/pkg/version.Version={c.KUBE_ROUTER_VERSION}",
    )["kube-router"]
