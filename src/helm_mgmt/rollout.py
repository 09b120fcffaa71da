"""Watching a release roll out: what is still pending (workloads n/m Ready, the migrations Job),
and, when it does not converge, why (the failing pod's reason and its last log lines)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from helm_mgmt.kube import kubectl, kubectl_json
from helm_mgmt.output import progress

# Waiting reasons that never resolve by themselves.
STUCK_REASONS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


@dataclass(frozen=True)
class Problem:
    pod: str
    container: str
    reason: str
    message: str

    def describe(self) -> str:
        text = f"pod/{self.pod} container {self.container}: {self.reason}"
        return f"{text}: {self.message}" if self.message else text


def pending(namespace: str, release: str) -> list[str]:
    """Workloads of the release whose replicas are not all updated and Ready (n/m), Jobs not yet
    complete, and pods not Ready; empty when the release has converged."""
    selector = f"app.kubernetes.io/instance={release}"
    waiting = []
    objects = kubectl_json(["get", "deployments,statefulsets,jobs,pods", "-n", namespace, "-l", selector])["items"]
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    if not workloads:
        return ["(no workloads yet)"]
    for w in workloads:
        want = w["spec"].get("replicas", 1)
        status = w.get("status", {})
        stale = status.get("observedGeneration", 0) < w["metadata"]["generation"]
        ready, updated = status.get("readyReplicas", 0), status.get("updatedReplicas", 0)
        if stale or ready < want or updated < want or status.get("replicas", 0) > want:
            waiting.append(f"{w['kind'].lower()}/{w['metadata']['name']} {ready}/{want} Ready, {updated} updated")
    for job in (o for o in objects if o["kind"] == "Job"):
        if job.get("status", {}).get("active"):
            waiting.append(f"job/{job['metadata']['name']} running")
    for pod in (o for o in objects if o["kind"] == "Pod"):
        if pod["status"].get("phase") == "Succeeded" or pod["metadata"].get("deletionTimestamp"):
            continue
        if (pod["metadata"].get("ownerReferences") or [{}])[0].get("kind") == "Job":
            continue
        conditions = pod["status"].get("conditions", [])
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            waiting.append(f"pod/{pod['metadata']['name']}")
    return waiting


def problems_of(pod: dict) -> list[Problem]:
    """What keeps a pod from running: stuck waiting reasons, containers that keep restarting
    (whatever state the poll catches them in), failed init containers, and a running container
    that is not Ready (its readiness probe fails)."""
    name = pod["metadata"]["name"]
    status = pod.get("status", {})
    found = []
    for kind in ("initContainerStatuses", "containerStatuses"):
        for c in status.get(kind) or []:
            state = c.get("state", {})
            waiting, terminated = state.get("waiting", {}), state.get("terminated", {})
            last = c.get("lastState", {}).get("terminated", {})
            restarts = c.get("restartCount", 0)
            crashed = f"restarted {restarts} times, last exit {last.get('exitCode')}" if restarts and last else ""
            if waiting.get("reason") in STUCK_REASONS:
                found.append(Problem(name, c["name"], waiting["reason"], crashed or waiting.get("message", "")))
            elif crashed and last.get("exitCode", 0) != 0:
                found.append(Problem(name, c["name"], "Restarting", crashed))
            elif terminated and terminated.get("exitCode", 0) != 0:
                found.append(
                    Problem(name, c["name"], terminated.get("reason", "Error"), f"exit {terminated['exitCode']}")
                )
            elif kind == "containerStatuses" and state.get("running") and not c.get("ready"):
                found.append(Problem(name, c["name"], "NotReady", "running, but its readiness probe does not pass"))
    return found


def diagnose(namespace: str, release: str, log_lines: int = 15) -> list[str]:
    """Why the release does not converge: each problem pod's reason, its last readiness-probe
    event, and the last log lines of the failing container."""
    selector = f"app.kubernetes.io/instance={release}"
    lines = []
    for pod in kubectl_json(["get", "pods", "-n", namespace, "-l", selector])["items"]:
        for problem in problems_of(pod):
            lines.append(problem.describe())
            events = kubectl(
                [
                    "get",
                    "events",
                    "-n",
                    namespace,
                    "--field-selector",
                    f"involvedObject.name={problem.pod}",
                    "-o",
                    "jsonpath={range .items[*]}{.reason}: {.message}{'\\n'}{end}",
                ],
                check=False,
            ).stdout.splitlines()
            lines += [f"  event {e}" for e in events if e.startswith(("Unhealthy", "Failed", "BackOff"))][-2:]
            for previous in (False, True):
                args = ["logs", "-n", namespace, problem.pod, "-c", problem.container, f"--tail={log_lines}"]
                log = kubectl([*args, "--previous"] if previous else args, check=False).stdout.strip()
                if log:
                    lines += [f"  log {line}" for line in log.splitlines()]
                    break
    return lines


def job_log(namespace: str, job: str, container: str, lines: int = 15) -> str:
    return kubectl(["logs", "-n", namespace, f"job/{job}", "-c", container, f"--tail={lines}"], check=False).stdout


def wait(namespace: str, release: str, timeout: float, report: Callable[[str], None] = progress) -> list[str]:
    """Poll until the release converges (returns []) or ``timeout`` seconds pass (returns what
    is still pending), saying every few seconds what is being waited for."""
    started = time.monotonic()
    last = ""
    while True:
        waiting = pending(namespace, release)
        if not waiting:
            report(f"every workload of {release} is updated and Ready ({time.monotonic() - started:.0f}s)")
            return []
        if time.monotonic() - started > timeout:
            return waiting
        line = ", ".join(waiting)
        if line != last or int(time.monotonic() - started) % 30 < 5:
            report(f"waiting for {line[:200]} ({time.monotonic() - started:.0f}s)")
            last = line
        time.sleep(5)


def parse_duration(text: str) -> float:
    """Seconds of a Helm-style duration (``10m``, ``90s``, ``1h30m``)."""
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for char in text.strip():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise ValueError(f"timeout {text!r} is not a duration like 10m, 90s or 1h30m")
    if number:
        raise ValueError(f"timeout {text!r} lacks a unit: write {text}s or {text}m")
    return total
