"""helm-mgmt's release commands against the real stack: an upgrade that never gets Ready and one
that crash-loops each fail within their timeout, are rolled back by the tool with the reason, and
history shows it, while a steady load through the backend Service sees no failed request; diff
shows what an upgrade would change; bad values never reach the cluster."""

from __future__ import annotations

import pytest
from loadpod import steady_load
from stackenv import RELEASE, backend_ready_url
from stackenv import stack_spec as spec

from helm_mgmt.diff import upgrade_diff
from helm_mgmt.release import PreflightError, ReleaseFailed, history, install


def backend_template(kubectl, namespace: str) -> str:
    return kubectl(
        "get", "deployment", f"{RELEASE}-backend", "-n", namespace, "-o", "jsonpath={.spec.template.spec}"
    ).stdout


# A ConfigMap the crash-loop case adds with extraEnvFrom: gin panics on an unknown GIN_MODE at start.
CRASH_CONFIG = "release-test-crash"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("backend.readinessProbe.path=/not-a-route", ["NotReady", "Readiness probe failed"]),
        (f"backend.extraEnvFrom[0].configMapRef.name={CRASH_CONFIG}", ["restarted", "last exit", "log "]),
    ],
    ids=["readiness-never-passes", "crash-loop"],
)
def test_a_failing_upgrade_is_rolled_back_with_the_reason(stack, helm, kubectl, bad, expected):
    kubectl("create", "configmap", CRASH_CONFIG, "-n", stack, "--from-literal=GIN_MODE=bogus", check=False)
    before = history(helm, RELEASE, stack)[-1]["revision"]
    template = backend_template(kubectl, stack)
    url = backend_ready_url(kubectl, stack)
    with steady_load(kubectl, stack, url) as load, pytest.raises(ReleaseFailed) as err:
        install(helm, spec(stack, bad, timeout="100s"), upgrade=True, report=lambda _line: None)
    assert load["ok"] >= 5000 and load["fail"] == 0, f"the running release stopped serving: {load}"
    message = str(err.value)
    assert f"rolled back to revision {before}" in message
    for fragment in expected:
        assert fragment in message, message
    revisions = history(helm, RELEASE, stack)
    assert revisions[-2]["status"] == "failed"
    assert revisions[-1]["status"] == "deployed" and f"Rollback to {before}" in revisions[-1]["description"]
    assert backend_template(kubectl, stack) == template


def test_bad_values_never_reach_the_cluster(stack, helm):
    before = history(helm, RELEASE, stack)
    with pytest.raises(PreflightError, match="replicaCount"):
        install(helm, spec(stack, "backend.replicaCount=-1"), upgrade=True)
    with pytest.raises(PreflightError, match="--timeout"):
        install(helm, spec(stack, timeout="ten"), upgrade=True)
    assert history(helm, RELEASE, stack) == before


def test_diff_shows_what_an_upgrade_would_change(stack, helm):
    assert upgrade_diff(helm, spec(stack)) == []
    changes = {c.object: c.change for c in upgrade_diff(helm, spec(stack, "backend.config.LOG_FORMAT=text"))}
    assert changes == {
        f"ConfigMap {stack}/{RELEASE}-backend": "changed",
        f"Deployment {stack}/{RELEASE}-backend": "changed",  # checksum/config rolls the pods
    }
