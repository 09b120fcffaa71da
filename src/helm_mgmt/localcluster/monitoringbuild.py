"""The Go programs of the monitoring images, built from the Go module proxy.

prometheus-operator publishes a go.mod that replaces its own API and client modules with folders
of its repository, so ``go install ...@version`` refuses it; it is built, like Kubernetes, in a
generated wrapper module (``build.build_wrapped``) that requires those two modules at the same
published version. kube-state-metrics is built the same way, for the same caching and logs.

Every binary lands in ``gobuild.bin_dir(name, version)``; a binary already there is reused. The
operator and the config reloader are separate builds so that each image needs only its own.
"""

from __future__ import annotations

from pathlib import Path

from helm_mgmt.localcluster.build import build_wrapped

OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
OPERATOR_VERSION = "v0.93.1"
KUBE_STATE_METRICS_MODULE = "k8s.io/kube-state-metrics/v2"
KUBE_STATE_METRICS_VERSION = "v2.20.0"
# The client-go that kube-state-metrics v2.20.0 requires; it reports it as a metric label.
KUBE_STATE_METRICS_CLIENT_GO = "v0.36.3"
_VERSION_PACKAGE = "github.com/prometheus/common/version"


def _version_ldflags(version: str) -> str:
    """What ``--version`` of a Prometheus-style program prints (no revision: not built from git)."""
    return f"-X {_VERSION_PACKAGE}.Version={version} -X {_VERSION_PACKAGE}.Branch=release"


def _operator_ldflags() -> str:
    # The operator's releases call themselves 0.93.1, without the tag's "v".
    return _version_ldflags(OPERATOR_VERSION.removeprefix("v"))


def _operator_command(name: str) -> Path:
    return build_wrapped(
        f"prometheus-{name}" if name == "operator" else name,
        OPERATOR_VERSION,
        requires={
            OPERATOR_MODULE: OPERATOR_VERSION,
            # What the upstream go.mod takes from its own folders: the same release, published.
            f"{OPERATOR_MODULE}/pkg/apis/monitoring": OPERATOR_VERSION,
            f"{OPERATOR_MODULE}/pkg/client": OPERATOR_VERSION,
        },
        packages={name: f"{OPERATOR_MODULE}/cmd/{name}"},
        ldflags=_operator_ldflags(),
    )[name]


def prometheus_operator() -> Path:
    """``cmd/operator`` of prometheus-operator."""
    return _operator_command("operator")


def prometheus_config_reloader() -> Path:
    """``cmd/prometheus-config-reloader`` of prometheus-operator."""
    return _operator_command("prometheus-config-reloader")


def _ksm_ldflags() -> str:
    return (
        f"{_version_ldflags(KUBE_STATE_METRICS_VERSION)} "
        f"-X {KUBE_STATE_METRICS_MODULE}/pkg/app.ClientGoVersion={KUBE_STATE_METRICS_CLIENT_GO}"
    )


def kube_state_metrics() -> Path:
    """The kube-state-metrics command (the module's root package)."""
    return build_wrapped(
        "kube-state-metrics",
        KUBE_STATE_METRICS_VERSION,
        requires={KUBE_STATE_METRICS_MODULE: KUBE_STATE_METRICS_VERSION},
        packages={"kube-state-metrics": KUBE_STATE_METRICS_MODULE},
        ldflags=_ksm_ldflags(),
    )["kube-state-metrics"]


def operator_key() -> str:
    """Versions the operator's binaries in the image cache keys without building them."""
    return f"{OPERATOR_MODULE}@{OPERATOR_VERSION} {_operator_ldflags()}"


def kube_state_metrics_key() -> str:
    return f"{KUBE_STATE_METRICS_MODULE}@{KUBE_STATE_METRICS_VERSION} {_ksm_ldflags()}"
