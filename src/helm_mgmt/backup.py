"""Backups of the postgres chart's database: run the backup CronJob now, list the dumps on its
volume, restore one. Every Job is made from the CronJob's own pod template, so it has the chart's
image, security context, password file, backup volume and the labels its NetworkPolicy admits."""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from helm_mgmt.kube import kubectl, kubectl_json

BACKUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.dump$")

# Lists the dumps, newest first, as "name size" lines.
LIST_SCRIPT = """set -eu
cd "${BACKUP_DIR}"
for f in $(ls -1 -- *.dump 2>/dev/null | sort -r); do echo "$f $(du -k "$f" | cut -f1)"; done
"""

# Restores one dump (or the newest) in a single transaction: on any error nothing changes. The
# extensions stay the superuser's (created at initialisation): their entries are left out.
RESTORE_SCRIPT = """set -eu
PGPASSWORD="$(cat "${POSTGRES_PASSWORD_FILE}")"; export PGPASSWORD
cd "${BACKUP_DIR}"
file="${BACKUP:-$(ls -1 -- "${PGDATABASE}"-*.dump 2>/dev/null | sort | tail -n 1)}"
[ -n "$file" ] || { echo "no dump of ${PGDATABASE} in ${BACKUP_DIR}" >&2; exit 2; }
[ -f "$file" ] || { echo "no dump named $file in ${BACKUP_DIR}" >&2; exit 2; }
tries=0  # a NetworkPolicy engine may admit this new pod's address a moment after it starts
until pg_isready --quiet --timeout=2; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "${PGHOST}:${PGPORT} did not answer for 30 tries" >&2; exit 1; }
  sleep 1
done
echo "restoring $file into ${PGDATABASE} on ${PGHOST}"
pg_restore --list "$file" | grep -v -E '^[0-9]+; [0-9]+ [0-9]+ (EXTENSION|COMMENT - EXTENSION) ' > /tmp/restore.list
pg_restore --dbname="${PGDATABASE}" --clean --if-exists --no-owner --no-privileges \\
  --single-transaction --exit-on-error --use-list=/tmp/restore.list "$file"
echo "restore complete: $file"
"""


class BackupError(RuntimeError):
    pass


@dataclass
class JobResult:
    name: str
    succeeded: bool
    logs: str


def check_backup_name(name: str | None) -> None:
    if name is not None and not BACKUP_NAME.match(name):
        raise BackupError(
            f"backup {name!r} is not a dump file name: give a name as listed by `helm-mgmt backup --list` "
            "(like clipper_db-20261203T031500Z.dump), without a directory"
        )


def backup_cronjob(namespace: str, release: str) -> dict[str, Any]:
    selector = (
        f"app.kubernetes.io/instance={release},app.kubernetes.io/name=postgres,app.kubernetes.io/component=backup"
    )
    items = kubectl_json(["get", "cronjobs", "-n", namespace, "-l", selector]).get("items", [])
    if not items:
        raise BackupError(
            f"release {release} in namespace {namespace} has no backup CronJob: enable it with "
            "backup.enabled=true (postgres.backup.enabled=true in the umbrella) and upgrade"
        )
    return items[0]


def _job_from(cronjob: dict[str, Any], suffix: str, script: str | None, env: dict[str, str]) -> dict[str, Any]:
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    name = f"{cronjob['metadata']['name'][:40]}-{suffix}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    container = template["spec"]["template"]["spec"]["containers"][0]
    if script is not None:
        container["command"] = ["/bin/sh", "-c", script]
        container.pop("args", None)
    container["env"] = [*container.get("env", []), *({"name": k, "value": v} for k, v in env.items())]
    template["spec"]["ttlSecondsAfterFinished"] = 86400
    template["spec"]["backoffLimit"] = 0
    metadata = {**template.get("metadata", {}), "name": name, "namespace": cronjob["metadata"]["namespace"]}
    # Owned by the CronJob, as `kubectl create job --from=cronjob/...` makes them: the uninstall that
    # deletes the CronJob takes these Jobs and their pods along, which would otherwise hold the backup
    # claim (a claim in use is not deleted).
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "controller": True}
    metadata["ownerReferences"] = [{**owner, "name": cronjob["metadata"]["name"], "uid": cronjob["metadata"]["uid"]}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"]}


def run_job(job: dict[str, Any], timeout: float) -> JobResult:
    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    kubectl(["apply", "-f", "-"], stdin=json.dumps(job))
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        status = kubectl_json(["get", "job", name, "-n", namespace]).get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if conditions.get("Complete") == "True" or conditions.get("Failed") == "True":
            state = conditions.get("Complete") == "True"
            break
        time.sleep(2)
    logs = kubectl(["logs", f"job/{name}", "-n", namespace, "--tail=200"], check=False).stdout
    if state is None:
        raise BackupError(f"Job {namespace}/{name} did not finish within {timeout:.0f} s; its log so far:\n{logs}")
    return JobResult(name, state, logs)


def backup_now(namespace: str, release: str, timeout: float = 900) -> JobResult:
    """A Job from the backup CronJob, exactly as the schedule would run it (retention included)."""
    return run_job(_job_from(backup_cronjob(namespace, release), "manual", None, {}), timeout)


def list_backups(namespace: str, release: str, timeout: float = 300) -> list[tuple[str, int]]:
    result = run_job(_job_from(backup_cronjob(namespace, release), "list", LIST_SCRIPT, {}), timeout)
    if not result.succeeded:
        raise BackupError(f"listing the backups failed (Job {result.name}):\n{result.logs}")
    entries = []
    for line in result.logs.splitlines():
        name, _, size = line.partition(" ")
        if BACKUP_NAME.match(name) and size.isdigit():
            entries.append((name, int(size)))
    return entries


def _backend_deployments(namespace: str, release: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/name=backend"
    return kubectl_json(["get", "deployments", "-n", namespace, "-l", selector]).get("items", [])


def _scale(namespace: str, name: str, replicas: int, timeout: float) -> None:
    kubectl(["scale", f"deployment/{name}", "-n", namespace, f"--replicas={replicas}"])
    if replicas:
        kubectl(
            ["rollout", "status", f"deployment/{name}", "-n", namespace, f"--timeout={int(timeout)}s"],
            timeout=timeout + 30,
        )
        return
    deadline = time.monotonic() + timeout
    selector = ",".join(f"{k}={v}" for k, v in _deployment_selector(namespace, name).items())
    while time.monotonic() < deadline:
        if not kubectl_json(["get", "pods", "-n", namespace, "-l", selector]).get("items"):
            return
        time.sleep(2)
    raise BackupError(f"the pods of deployment {namespace}/{name} did not stop within {timeout:.0f} s")


def _deployment_selector(namespace: str, name: str) -> dict[str, str]:
    return kubectl_json(["get", "deployment", name, "-n", namespace])["spec"]["selector"]["matchLabels"]


def restore(namespace: str, release: str, backup: str | None, timeout: float = 1800) -> JobResult:
    """Stop the backend (no writes during the restore), restore, start it again: also when the
    restore fails, which changes nothing (one transaction)."""
    check_backup_name(backup)
    cronjob = backup_cronjob(namespace, release)
    deployments = [
        (d["metadata"]["name"], d["spec"].get("replicas", 1)) for d in _backend_deployments(namespace, release)
    ]
    for name, _ in deployments:
        _scale(namespace, name, 0, 300)
    try:
        env = {"BACKUP": backup} if backup else {}
        return run_job(_job_from(cronjob, "restore", RESTORE_SCRIPT, env), timeout)
    finally:
        for name, replicas in deployments:
            _scale(namespace, name, replicas, 600)
