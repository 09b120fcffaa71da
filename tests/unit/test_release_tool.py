"""The release commands' own logic, without a cluster: the per-object diff, the diagnosis of a pod
that keeps a rollout from converging, durations, and the Helm 3/4 dry-run flag."""

from __future__ import annotations

import subprocess

import pytest

from helm_mgmt import rollout
from helm_mgmt.diff import compare
from helm_mgmt.helm import Helm
from helm_mgmt.release import ReleaseSpec, dry_run_flag, install, rollback

LIVE = """
apiVersion: v1
kind: ConfigMap
metadata: {name: clipper-backend, namespace: clipper}
data: {GIN_MODE: release}
---
apiVersion: v1
kind: Secret
metadata: {name: clipper-backend, namespace: clipper}
data: {MFA_ENCRYPTION_KEY: c2VjcmV0LW9uZQ==}
---
apiVersion: v1
kind: Service
metadata: {name: clipper-old}
"""
NEW = """
apiVersion: v1
kind: ConfigMap
metadata: {name: clipper-backend, namespace: clipper}
data: {GIN_MODE: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: clipper-backend, namespace: clipper}
data: {MFA_ENCRYPTION_KEY: c2VjcmV0LXR3bw==}
---
apiVersion: v1
kind: Service
metadata: {name: clipper-new}
"""


def test_diff_names_each_changed_added_and_removed_object():
    changes = {c.object: c for c in compare(LIVE, NEW)}
    assert {k: c.change for k, c in changes.items()} == {
        "ConfigMap clipper/clipper-backend": "changed",
        "Secret clipper/clipper-backend": "changed",
        "Service clipper-new": "added",
        "Service clipper-old": "removed",
    }
    config = changes["ConfigMap clipper/clipper-backend"].diff
    assert "-  GIN_MODE: release" in config and "+  GIN_MODE: debug" in config


def test_diff_never_shows_secret_values():
    secret = next(c for c in compare(LIVE, NEW) if c.object.startswith("Secret")).diff
    assert "c2VjcmV0" not in secret and "secret-one" not in secret
    assert "<sha256 " in secret


def test_diff_of_identical_manifests_is_empty():
    assert compare(LIVE, LIVE) == []


def pod(init: list[dict] | None = None, main: list[dict] | None = None) -> dict:
    return {
        "metadata": {"name": "clipper-backend-x"},
        "status": {"initContainerStatuses": init, "containerStatuses": main},
    }


def test_a_crash_looping_container_is_named_with_its_restarts_and_last_exit():
    status = {
        "name": "backend",
        "ready": False,
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 2}},
    }
    [problem] = rollout.problems_of(pod(main=[status]))
    assert problem.describe() == (
        "pod/clipper-backend-x container backend: CrashLoopBackOff: restarted 3 times, last exit 2"
    )


def test_a_crash_looping_container_caught_running_again_is_still_named_as_restarting():
    status = {
        "name": "backend",
        "ready": False,
        "restartCount": 4,
        "state": {"running": {"startedAt": "2026-12-02T10:00:00Z"}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}},
    }
    [problem] = rollout.problems_of(pod(main=[status]))
    assert (problem.reason, problem.message) == ("Restarting", "restarted 4 times, last exit 2")


def test_a_failed_migration_init_container_is_named():
    status = {"name": "migrate", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    [problem] = rollout.problems_of(pod(init=[status]))
    assert (problem.container, problem.reason, problem.message) == ("migrate", "Error", "exit 1")


def test_a_running_container_that_never_gets_ready_is_named():
    status = {"name": "backend", "ready": False, "state": {"running": {"startedAt": "2026-12-02T10:00:00Z"}}}
    [problem] = rollout.problems_of(pod(main=[status]))
    assert problem.reason == "NotReady"


def test_a_healthy_pod_has_no_problem():
    done = {"name": "migrate", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    running = {"name": "backend", "ready": True, "state": {"running": {}}}
    assert rollout.problems_of(pod(init=[done], main=[running])) == []


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("90s", 90), ("1h30m", 5400), ("2.5m", 150)])
def test_durations(text, seconds):
    assert rollout.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10", "ten minutes", "5d"])
def test_bad_durations_say_how_to_write_them(text):
    with pytest.raises(ValueError, match="10m"):
        rollout.parse_duration(text)


@pytest.mark.parametrize(("key", "flag"), [("helm4", "--dry-run=server"), ("helm3-oldest", "--dry-run")])
def test_dry_run_is_server_side_where_the_helm_release_has_it(key, flag):
    assert dry_run_flag(Helm(key)) == flag


class RecordingHelm(Helm):
    """Records the argument lists instead of running Helm."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.calls: list[list[str]] = []

    def run(self, args, check=True, timeout=None):
        self.calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "", "")


@pytest.mark.parametrize(("key", "forced"), [("helm4", True), ("helm3", False), ("helm3-oldest", False)])
def test_upgrades_and_rollbacks_let_the_chart_win_conflicts_on_every_helm(key, forced):
    """Helm 4 applies server-side: after `kubectl rollout undo` an upgrade would fail on the image
    field kubectl now owns (seen in the benchmark). --force-conflicts gives Helm 3's outcome."""
    helm = RecordingHelm(key)
    install(helm, ReleaseSpec(env="local"), upgrade=True, dry_run=True)
    rollback(helm, "clipper", "clipper", revision=2, dry_run=True)
    install(helm, ReleaseSpec(env="local"), upgrade=False, dry_run=True)
    upgrade, rolled_back, first_install = (c for c in helm.calls if c[0] in ("upgrade", "rollback", "install"))
    assert ("--force-conflicts" in upgrade) == forced and ("--force-conflicts" in rolled_back) == forced
    assert "--force-conflicts" not in first_install


def pod_item(name: str, phase: str, ready: bool, restarts: int = 0) -> dict:
    return {
        "metadata": {"name": name},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


@pytest.mark.parametrize(
    ("pods", "exit_code"),
    [
        ([pod_item("api", "Running", True), pod_item("backup-check-r1-x", "Succeeded", False)], 0),
        ([pod_item("api", "Running", True), pod_item("api-2", "Running", False)], 1),
        ([pod_item("api", "Running", True), pod_item("backup-x", "Failed", False)], 1),
    ],
    ids=["finished-job-pod-is-healthy", "unready-pod", "failed-job-pod"],
)
def test_status_counts_a_finished_job_pod_as_healthy(monkeypatch, capsys, pods, exit_code):
    from helm_mgmt import cli, release

    def fake_run(self, args, check=True, timeout=None):
        return subprocess.CompletedProcess(args, 0, '{"version": 3, "info": {"status": "deployed"}}', "")

    monkeypatch.setattr(Helm, "run", fake_run)
    monkeypatch.setattr(release, "kubectl_json", lambda args: {"items": pods})
    assert cli.main(["status", "-n", "clipper"]) == exit_code
    assert "revision 3, deployed" in capsys.readouterr().out


def test_a_backup_job_is_owned_by_the_cronjob_it_is_made_from():
    """So that the uninstall that deletes the CronJob deletes the Job and its pod, which would
    otherwise keep the backup claim from being deleted."""
    from helm_mgmt.backup import _job_from

    cronjob = {
        "metadata": {"name": "clipper-postgres-backup", "namespace": "clipper", "uid": "1234"},
        "spec": {
            "jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": {"spec": {"containers": [{}]}}}}
        },
    }
    job = _job_from(cronjob, "manual", None, {})
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "controller": True,
            "name": "clipper-postgres-backup",
            "uid": "1234",
        }
    ]
    assert job["metadata"]["labels"] == {"a": "b"} and job["metadata"]["namespace"] == "clipper"
