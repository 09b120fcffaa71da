"""The Go programs of the local cluster's platform add-ons (the ones that run in pods), built from
the Go module proxy in wrapper modules (``build.build_wrapped``) against the shared module and build
caches.

Traefik's go.mod replaces three forks and excludes one version, which ``go install`` refuses; only
the main module's directives count, so the wrapper repeats them. External Secrets Operator is built
from a copy of its module with the provider and generator registries cut down to what the local
cluster uses (``kubernetes`` and ``fake``), which saves most of its build. cert-manager's commands
are not served at all: ``certmanager-main/`` holds our own main packages for its controller and
its ACME HTTP-01 solver, wired from the library's controllers. Pebble, Let's Encrypt's ACME test
server, is a plain module build.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.build import build_wrapped, module_dir, shared_client_libraries
from helm_mgmt.paths import cache_root

TRAEFIK_MODULE = "github.com/traefik/traefik/v3"


# Traefik's ingress-nginx provider reads an endpoint's `terminating` condition into a `Fenced` flag
# but never hands it to the load balancer, which then keeps sending new requests to pods that are
# stopping (its kubernetesIngress provider does hand it over). The copy we build passes it through.
_TRAEFIK_SERVER = "\t\tsvc.LoadBalancer.Servers = append(svc.LoadBalancer.Servers, dynamic.Server{\n"
_TRAEFIK_UNFENCED = _TRAEFIK_SERVER + '\t\t\tURL: fmt.Sprintf("%s://%s", scheme, addr.Address),\n\t\t})'
_TRAEFIK_FENCED = (
    _TRAEFIK_SERVER + '\t\t\tURL:    fmt.Sprintf("%s://%s", scheme, addr.Address),\n\t\t\tFenced: addr.Fenced,\n\t\t})'
)
TRAEFIK_PATCH = "ingress-nginx-fenced"


def _patch_traefik(source: Path) -> None:
    provider = source / "pkg/provider/kubernetes/ingress-nginx/kubernetes.go"
    text = provider.read_text()
    if text.count(_TRAEFIK_UNFENCED) != 1:
        raise RuntimeError(f"{provider}: the line to patch is not there once; review TRAEFIK_PATCH for this version")
    provider.write_text(text.replace(_TRAEFIK_UNFENCED, _TRAEFIK_FENCED))


def _traefik_ldflags() -> str:
    version = f"{TRAEFIK_MODULE}/pkg/version"
    return f"-X {version}.Version={c.TRAEFIK_VERSION.removeprefix('v')} -X {version}.Codename=ramequin"


def traefik_key() -> str:
    """Versions Traefik's binary in its image's cache key without building it."""
    return (
        f"{TRAEFIK_MODULE}@{c.TRAEFIK_VERSION}+{TRAEFIK_PATCH} gateway-api@{c.GATEWAY_API_VERSION} {_traefik_ldflags()}"
    )


def traefik() -> Path:
    """Traefik, the ingress controller and Gateway API implementation, against the cluster's client
    libraries and the Gateway API release whose CRDs the cluster installs."""
    return build_wrapped(
        "traefik",
        f"{c.TRAEFIK_VERSION}-{TRAEFIK_PATCH}",
        requires={
            TRAEFIK_MODULE: c.TRAEFIK_VERSION,
            "sigs.k8s.io/gateway-api": c.GATEWAY_API_VERSION,
            **shared_client_libraries(),
        },
        packages={"traefik": f"{TRAEFIK_MODULE}/cmd/traefik"},
        ldflags=_traefik_ldflags(),
        replaces={
            TRAEFIK_MODULE: str(
                _patched_copy("traefik", TRAEFIK_MODULE, c.TRAEFIK_VERSION, TRAEFIK_PATCH, _patch_traefik)
            ),
            "github.com/abbot/go-http-auth": "github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e",
            "github.com/gorilla/mux": "github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59",
            "github.com/mailgun/minheap": "github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595",
        },
        excludes={"github.com/tencentcloud/tencentcloud-sdk-go": "v3.0.83+incompatible"},
    )["traefik"]


ESO_MODULE = "github.com/external-secrets/external-secrets"
# What the local cluster's stores and tests use; every other provider and generator is left out.
ESO_PROVIDERS = ("fake", "kubernetes")
ESO_GENERATORS = ("fake", "password", "uuid")


def _registry(kind: str, names: tuple[str, ...]) -> str:
    imports = "".join(f'\t_ "{ESO_MODULE}/pkg/{kind}/{name}"\n' for name in names)
    header = f"// Cut down by clipper-kit: only the {kind}s the local cluster uses.\npackage register\n"
    return f"{header}\nimport (\n{imports})\n"


def _patched_copy(name: str, module: str, version: str, label: str, patch: Callable[[Path], None]) -> Path:
    """A writable copy of ``module`` with ``patch`` applied once, kept in the cache under ``label``."""
    target = cache_root() / "wrappers" / f"{name}-{version}-src-{label}"
    marker = target / ".clipper-kit-patched"
    if marker.is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(module_dir(module, version), target, ignore=shutil.ignore_patterns("docs", "design", "integration"))
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    patch(target)
    marker.write_text("")
    return target


def _trim_eso(source: Path) -> None:
    (source / "pkg/provider/register/register.go").write_text(_registry("provider", ESO_PROVIDERS))
    (source / "pkg/generator/register/register.go").write_text(_registry("generator", ESO_GENERATORS))


def external_secrets_key() -> str:
    return f"{ESO_MODULE}@{c.ESO_VERSION} providers={','.join(ESO_PROVIDERS)} generators={','.join(ESO_GENERATORS)}"


def external_secrets() -> Path:
    """External Secrets Operator's controller (its module's root package), on its own client
    libraries: its controller-runtime needs them."""
    return build_wrapped(
        "external-secrets",
        c.ESO_VERSION,
        requires={ESO_MODULE: c.ESO_VERSION},
        packages={"external-secrets": ESO_MODULE},
        replaces={
            ESO_MODULE: str(_patched_copy("external-secrets", ESO_MODULE, c.ESO_VERSION, "trimmed", _trim_eso)),
            # From its go.mod (only the main module's replace lines count).
            "github.com/Masterminds/sprig/v3": "github.com/external-secrets/sprig/v3 v3.3.0",
        },
    )["external-secrets"]


CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager"
# Our main packages for cert-manager's controller and ACME HTTP-01 solver: upstream's cmd/* modules
# are not served, and its config defaults import the Venafi issuer, whose dependency is not either.
CERT_MANAGER_SOURCES = Path(__file__).with_name("certmanager-main")
_CERT_MANAGER_LDFLAGS = f"-X {CERT_MANAGER_MODULE}/pkg/util.AppVersion={c.CERT_MANAGER_VERSION}"


def _cert_manager_build_version() -> str:
    """The release plus a digest of our main packages, so that editing them rebuilds."""
    digest = hashlib.sha256()
    for path in sorted(CERT_MANAGER_SOURCES.rglob("*.go")):
        digest.update(str(path.relative_to(CERT_MANAGER_SOURCES)).encode() + b"\0" + path.read_bytes())
    return f"{c.CERT_MANAGER_VERSION}-{digest.hexdigest()[:12]}"


def cert_manager_key() -> str:
    return f"{CERT_MANAGER_MODULE}@{_cert_manager_build_version()} {_CERT_MANAGER_LDFLAGS}"


def _cert_manager() -> dict[str, Path]:
    """Both programs in one ``go build``: the solver's packages are a subset of the controller's.
    cert-manager brings its own client libraries (v0.36), newer than the cluster's."""
    wrapper = "clipper-kit.local/wrappers/cert-manager"
    return build_wrapped(
        "cert-manager",
        _cert_manager_build_version(),
        requires={CERT_MANAGER_MODULE: c.CERT_MANAGER_VERSION},
        packages={
            "cert-manager-controller": f"{wrapper}/cmd/cert-manager-controller",
            "cert-manager-acmesolver": f"{wrapper}/cmd/cert-manager-acmesolver",
        },
        ldflags=_CERT_MANAGER_LDFLAGS,
        sources=CERT_MANAGER_SOURCES,
    )


def cert_manager_controller() -> Path:
    return _cert_manager()["cert-manager-controller"]


def cert_manager_acmesolver() -> Path:
    return _cert_manager()["cert-manager-acmesolver"]


PEBBLE_MODULE = "github.com/letsencrypt/pebble/v2"


def pebble_key() -> str:
    return f"{PEBBLE_MODULE}@{c.PEBBLE_VERSION}"


def pebble() -> Path:
    """Pebble, the ACME server the local cluster's ACME issuer talks to."""
    return build_wrapped(
        "pebble",
        c.PEBBLE_VERSION,
        requires={PEBBLE_MODULE: c.PEBBLE_VERSION},
        packages={"pebble": f"{PEBBLE_MODULE}/cmd/pebble"},
    )["pebble"]
