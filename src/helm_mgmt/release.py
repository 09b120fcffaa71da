"""Install, upgrade, roll back, uninstall and inspect the umbrella release.

Every command that changes a cluster first renders the chart with the same values locally, so
bad values are rejected before anything is sent to the API server.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from helm_mgmt import rollout
from helm_mgmt.helm import Helm, HelmError
from helm_mgmt.kube import kubectl, kubectl_json
from helm_mgmt.output import progress
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


class ReleaseFailed(RuntimeError):
    """An install or upgrade that did not converge; the message says why and what was rolled back."""


def dry_run_flag(helm: Helm) -> str:
    """Server-side dry run: the API server validates and admits every object, nothing is stored.
    Helm 3.12 has only `--dry-run`, which still asks the server for lookups but validates locally."""
    return "--dry-run" if helm.version.startswith("v3.12.") else "--dry-run=server"


def history(helm: Helm, release: str, namespace: str) -> list[dict]:
    """The release's revisions, oldest first (revision, updated, status, chart, app_version, description)."""
    return json.loads(helm.run(["history", release, "--namespace", namespace, "-o", "json"]).stdout)


def _revisions(helm: Helm, spec: ReleaseSpec) -> list[dict]:
    """The release's history, empty when there is no release."""
    try:
        return history(helm, spec.release, spec.namespace)
    except HelmError:
        return []


def _deployed_revision(revisions: list[dict]) -> int | None:
    return max((r["revision"] for r in revisions if r["status"] in ("deployed", "superseded")), default=None)


def _latest_revision(revisions: list[dict]) -> int | None:
    """The newest revision in any state."""
    return max((r["revision"] for r in revisions), default=None)


def _undo(helm: Helm, spec: ReleaseSpec, previous: int | None) -> str:
    """Roll back to ``previous`` (or, for a first install, uninstall) and say which it was."""
    if previous is None:
        helm.run(["uninstall", spec.release, "--namespace", spec.namespace, "--wait"], check=False)
        return "the release was uninstalled (it had no earlier revision; PVCs and kept Secrets stay)"
    helm.run(
        [
            "rollback",
            spec.release,
            str(previous),
            "--namespace",
            spec.namespace,
            "--wait",
            "--timeout",
            spec.timeout,
            *helm.chart_owns_fields,
        ]
    )
    return f"rolled back to revision {previous}"


def install(
    helm: Helm,
    spec: ReleaseSpec,
    upgrade: bool = False,
    wait: bool = True,
    dry_run: bool = False,
    report=progress,
) -> str:
    """Install or upgrade after a local render of the same values. With ``wait``, watch the rollout
    (which workload is rolling, n/m Ready) until ``spec.timeout``; if it fails (a hook such as the
    migrations Job fails, or the pods never get Ready) roll back by ourselves, the same on Helm 3
    and 4, and raise ReleaseFailed with the reason: the failing pod's state and last log lines."""
    try:
        timeout = rollout.parse_duration(spec.timeout)
    except ValueError as err:
        raise PreflightError(f"--timeout: {err}") from err
    preflight(helm, spec)
    verb = ["upgrade"] if upgrade else ["install"]
    args = [*verb, spec.release, str(spec.chart), "--namespace", spec.namespace, *spec.value_args()]
    args += helm.chart_owns_fields if upgrade else ["--create-namespace"]
    if dry_run:
        return helm.run([*args, dry_run_flag(helm)]).stdout
    if not wait:
        return helm.run([*args, "--timeout", spec.timeout], timeout=timeout + 60).stdout
    revisions = _revisions(helm, spec)
    previous = _deployed_revision(revisions) if upgrade else None
    latest = _latest_revision(revisions)
    report(f"{verb[0]} {spec.release} in {spec.namespace} (hooks such as the migrations Job run first)")
    # Helm waits (so that a rollout that does not converge is recorded as failed in the history);
    # we watch beside it to say what is rolling, and diagnose and roll back ourselves.
    proc = helm.start([*args, "--wait", "--timeout", spec.timeout])
    started = time.monotonic()
    while proc.poll() is None:
        waiting = rollout.pending(spec.namespace, spec.release) if time.monotonic() - started > 5 else []
        if waiting:
            report(f"waiting for {', '.join(waiting)[:200]} ({time.monotonic() - started:.0f}s)")
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            if time.monotonic() - started > timeout + 120:
                proc.kill()
    out, err = proc.communicate()
    if proc.returncode == 0:
        report(f"{spec.release} is updated and Ready ({time.monotonic() - started:.0f}s)")
        return out
    why = [(err.strip().splitlines() or ["helm gave no message"])[-1]]
    if _latest_revision(_revisions(helm, spec)) == latest:
        # Helm stopped before recording a revision (e.g. a chart's check on what is deployed):
        # nothing changed, so there is nothing to roll back.
        raise ReleaseFailed(f"Helm refused to {verb[0]} {spec.release} before changing anything: {why[0]}")
    why += _hook_logs(spec.namespace, err) + rollout.diagnose(spec.namespace, spec.release)
    try:
        undone = _undo(helm, spec, previous)
    except HelmError as undo_err:
        last = (undo_err.stderr.strip().splitlines() or ["helm gave no message"])[-2:]
        undone = f"rolling back to revision {previous} failed as well ({' '.join(last)}): see `helm-mgmt status`"
    raise ReleaseFailed(_failure(spec, why, undone))


def _hook_logs(namespace: str, helm_error: str) -> list[str]:
    """The last log lines of the Jobs a failed hook message names (`job <name> failed`)."""
    lines = []
    for job in sorted(set(re.findall(r"job ([a-z0-9.-]+) failed", helm_error))):
        containers = kubectl(
            ["get", f"job/{job}", "-n", namespace, "-o", "jsonpath={.spec.template.spec.containers[*].name}"],
            check=False,
        ).stdout.split()
        for container in containers:
            lines += [
                f"  job/{job} {container}: {line}" for line in rollout.job_log(namespace, job, container).splitlines()
            ]
    return lines


def _failure(spec: ReleaseSpec, why: list[str], undone: str) -> str:
    return f"{spec.release} did not become Ready; {undone}. Why:\n" + "\n".join(why)


def rollback(
    helm: Helm, release: str, namespace: str, revision: int | None = None, timeout: str = "10m", dry_run: bool = False
) -> str:
    args = ["rollback", release]
    if revision is not None:
        args.append(str(revision))
    args += ["--namespace", namespace, *helm.chart_owns_fields]
    args += ["--dry-run"] if dry_run else ["--wait", "--timeout", timeout]
    return helm.run(args).stdout


def uninstall(helm: Helm, release: str, namespace: str, delete_pvcs: bool = False, dry_run: bool = False) -> list[str]:
    """Uninstall; PVCs of StatefulSets survive unless delete_pvcs. The backup volume always stays:
    deleting the data must not take its dumps with it. Returns what was removed."""
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component!=backup"
    if dry_run:
        out = helm.run(["uninstall", release, "--namespace", namespace, "--dry-run"]).stdout.strip()
        pvcs = (
            ""
            if not delete_pvcs
            else kubectl(["delete", "pvc", "-n", namespace, "-l", selector, "--dry-run=server"]).stdout.strip()
        )
        return [line for line in (out, pvcs) if line]
    removed = [helm.run(["uninstall", release, "--namespace", namespace, "--wait"]).stdout.strip()]
    if delete_pvcs:
        out = kubectl(["delete", "pvc", "-n", namespace, "-l", selector, "--wait=true"]).stdout
        removed.append(out.strip())
    return removed


def status(helm: Helm, release: str, namespace: str) -> dict:
    info = json.loads(helm.run(["status", release, "--namespace", namespace, "-o", "json"]).stdout)
    pods = kubectl_json(["get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}"])
    summary = []
    for pod in pods.get("items", []):
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        phase, ready = pod.get("status", {}).get("phase"), conds.get("Ready") == "True"
        summary.append(
            {
                "name": pod["metadata"]["name"],
                "phase": phase,
                "ready": ready,
                # A finished Job's pod (a backup, the backup volume check) is never Ready, and is fine.
                "healthy": ready or phase == "Succeeded",
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
