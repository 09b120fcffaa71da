"""Install, upgrade, roll back, uninstall and inspect the umbrella release.

Every command that changes a cluster first renders the chart with the same values locally, so
bad values are rejected before anything is sent to the API server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from helm_mgmt.helm import Helm, HelmError
from helm_mgmt.kube import kubectl, kubectl_json
from helm_mgmt.paths import CHARTS_DIR

UMBRELLA = CHARTS_DIR / "clipper"


class PreflightError(RuntimeError):
    pass


@dataclass
class ReleaseSpec:
    release: str = "clipper"
    namespace: str = "clipper"
    chart: Path = UMBRELLA
    env: str | None = None
    values_files: list[Path] = field(default_factory=list)
    set_values: list[str] = field(default_factory=list)
    timeout: str = "10m"

    def value_args(self) -> list[str]:
        args: list[str] = []
        files = list(self.values_files)
        if self.env:
            files.insert(0, self.chart / "examples" / f"values-{self.env}.yaml")
        for f in files:
            if not Path(f).is_file():
                raise PreflightError(f"values file {f} does not exist: check the path or the --env name")
            args += ["-f", str(f)]
        for s in self.set_values:
            args += ["--set", s]
        return args


def preflight(helm: Helm, spec: ReleaseSpec) -> None:
    """Render locally with the exact values; raise PreflightError with Helm's message on failure."""
    args = ["template", spec.release, str(spec.chart), "--namespace", spec.namespace, *spec.value_args()]
    try:
        helm.run(args)
    except HelmError as err:
        raise PreflightError(f"the values were rejected before touching the cluster:\n{err.stderr.strip()}") from err


def install(helm: Helm, spec: ReleaseSpec, upgrade: bool = False, wait: bool = True) -> str:
    preflight(helm, spec)
    verb = ["upgrade"] if upgrade else ["install"]
    args = [*verb, spec.release, str(spec.chart), "--namespace", spec.namespace, *spec.value_args()]
    if not upgrade:
        args.append("--create-namespace")
    if wait:
        args += ["--wait", "--timeout", spec.timeout, helm.rollback_on_failure_flag()]
    return helm.run(args).stdout


def rollback(helm: Helm, release: str, namespace: str, revision: int | None = None, timeout: str = "10m") -> str:
    args = ["rollback", release]
    if revision is not None:
        args.append(str(revision))
    args += ["--namespace", namespace, "--wait", "--timeout", timeout]
    return helm.run(args).stdout


def uninstall(helm: Helm, release: str, namespace: str, delete_pvcs: bool = False) -> list[str]:
    """Uninstall; PVCs of StatefulSets survive unless delete_pvcs. Returns what was removed."""
    removed = [helm.run(["uninstall", release, "--namespace", namespace, "--wait"]).stdout.strip()]
    if delete_pvcs:
        out = kubectl(
            ["delete", "pvc", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}", "--wait=true"]
        ).stdout
        removed.append(out.strip())
    return removed


def status(helm: Helm, release: str, namespace: str) -> dict:
    import json

    info = json.loads(helm.run(["status", release, "--namespace", namespace, "-o", "json"]).stdout)
    pods = kubectl_json(["get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}"])
    summary = []
    for pod in pods.get("items", []):
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        summary.append(
            {
                "name": pod["metadata"]["name"],
                "phase": pod.get("status", {}).get("phase"),
                "ready": conds.get("Ready") == "True",
                "restarts": sum(cs.get("restartCount", 0) for cs in pod.get("status", {}).get("containerStatuses", [])),
            }
        )
    return {
        "release": release,
        "namespace": namespace,
        "revision": info.get("version"),
        "status": info.get("info", {}).get("status"),
        "pods": summary,
    }
