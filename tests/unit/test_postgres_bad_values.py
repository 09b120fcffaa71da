"""Bad values for the postgres chart: each is refused with a message naming the value (and, for
template `fail`s, saying how to fix it), on the newest Helm 4 and the oldest supported Helm 3."""

from __future__ import annotations

from typing import Any

import pytest
from charttest import (
    BAD_VALUES_HELMS,
    KUBE_FLOOR,
    BadValuesCase,
    assert_refused,
    bad_values_params,
    exporter_required_cases,
    render,
)

pytestmark = pytest.mark.helm


# (id, values, fragments that must all appear in the error text)
CASES: list[BadValuesCase] = [
    *exporter_required_cases(),
    ("connections-ratio-above-one", {"metrics": {"prometheusRule": {"connectionsRatio": 80}}}, ["connectionsRatio"]),
    (
        "backup-late-too-short",
        {"metrics": {"prometheusRule": {"backupLateAfterSeconds": 5}}},
        ["backupLateAfterSeconds"],
    ),
    ("size-not-a-quantity", {"persistence": {"size": "20GB"}}, ["persistence", "size"]),
    ("access-mode-enum", {"persistence": {"accessMode": "RWO"}}, ["accessMode", "ReadWriteOnce"]),
    ("retention-policy-enum", {"persistence": {"retentionPolicy": {"whenDeleted": "Keep"}}}, ["whenDeleted"]),
    ("max-connections-zero", {"config": {"maxConnections": 0}}, ["maxConnections"]),
    ("max-connections-string", {"config": {"maxConnections": "many"}}, ["maxConnections"]),
    ("shared-buffers-k8s-unit", {"config": {"sharedBuffers": "256Mi"}}, ["sharedBuffers"]),
    ("backup-retention-zero", {"backup": {"enabled": True, "retention": 0}}, ["retention"]),
    ("backup-schedule-empty", {"backup": {"enabled": True, "schedule": ""}}, ["schedule"]),
    ("backup-size-invalid", {"backup": {"persistence": {"size": "lots"}}}, ["backup", "size"]),
    ("unknown-top-level-key", {"replicas": 3}, ["replicas"]),
    ("unknown-nested-key", {"persistence": {"storageClass": "fast"}}, ["storageClass"]),
    ("username-upper-case", {"auth": {"username": "Clipper"}}, ["username"]),
    (
        "renamed-password-key",
        {"auth": {"secretKeys": {"passwordKey": "pw"}}},
        ["auth.secretKeys.passwordKey was renamed"],
    ),
    (
        "local-value-a-global-overrides",
        {"global": {"postgres": {"database": "app_db"}}, "auth": {"database": "other_db"}},
        ["auth.database (other_db) has no effect", "global.postgres.database (app_db) wins"],
    ),
    (
        "every-mistake-in-one-run",
        {
            "image": {"tag": "latest"},
            "initdb": {"scripts": {"00-clipper-roles.sh": "x"}},
            "auth": {"superuser": {"username": "clipper"}},
        },
        [
            "chart postgres have 3 problem(s)",
            'image.tag "latest"',
            "00-clipper-roles.sh",
            "auth.superuser.username are both",
        ],
    ),
    ("database-uppercase", {"auth": {"database": "Clipper-DB"}}, ["database"]),
    ("service-port-too-high", {"service": {"port": 70000}}, ["port"]),
    ("service-port-zero", {"service": {"port": 0}}, ["port"]),
    ("replicas-two", {"replicaCount": 2}, ["replicaCount"]),
    ("cpu-quantity", {"resources": {"requests": {"cpu": "fast", "memory": "1Gi"}}}, ["cpu"]),
    ("short-password", {"auth": {"password": "abc"}}, ["password"]),
    ("root-security-context", {"securityContext": {"runAsNonRoot": False}}, ["runAsNonRoot"]),
    ("grace-period-too-short", {"terminationGracePeriodSeconds": 5}, ["terminationGracePeriodSeconds"]),
    ("liveness-success-threshold", {"livenessProbe": {"successThreshold": 2}}, ["successThreshold"]),
    ("extension-name", {"initdb": {"extensions": ["vector; DROP TABLE x"]}}, ["extensions"]),
    ("init-script-extension", {"initdb": {"scripts": {"setup.txt": "SELECT 1"}}}, ["setup.txt"]),
    # template `fail`s: name the value and say how to fix it
    (
        "image-tag-latest",
        {"image": {"tag": "latest"}},
        ['image.tag "latest" does not pin a release', "set image.tag to a version"],
    ),
    ("image-digest-malformed", {"image": {"digest": "sha256:abc"}}, ["digest"]),
    (
        "password-with-existing-secret",
        {"auth": {"password": "longenough", "existingSecret": "mine"}},
        ["auth.password is set", '"mine"', "remove auth.password"],
    ),
    (
        "global-username-invalid",
        {"global": {"postgres": {"username": "Bad User"}}},
        ['"Bad User"', "global.postgres.username", "lower-case PostgreSQL identifier"],
    ),
    (
        "global-database-invalid",
        {"global": {"postgres": {"database": "my-db"}}},
        ['"my-db"', "global.postgres.database", "set auth.database"],
    ),
    (
        "global-password-key-invalid",
        {"global": {"postgres": {"passwordKey": "pass word"}}},
        ['"pass word"', "global.postgres.passwordKey", "not a valid Secret key"],
    ),
    (
        "init-script-shadows-roles",
        {"initdb": {"scripts": {"00-clipper-roles.sh": "true"}}},
        ["00-clipper-roles.sh", "rename your script"],
    ),
    (
        "app-role-is-the-superuser",
        {"auth": {"username": "postgres"}},
        ['auth.username and auth.superuser.username are both "postgres"', "give the superuser another name"],
    ),
    (
        "superuser-password-and-existing-secret",
        {"auth": {"superuser": {"password": "longenough", "existingSecret": "pg-admin"}}},
        ["auth.superuser.password is set", '"pg-admin"', "remove one of them"],
    ),
    (
        "superuser-name-invalid",
        {"auth": {"superuser": {"username": "Admin User"}}},
        ["superuser", "username"],
    ),
    (
        "extra-overrides-managed-setting",
        {"config": {"extra": {"listen_addresses": "localhost"}}},
        ["config.extra.listen_addresses is managed by the chart", "remove it from config.extra"],
    ),
    (
        "extra-sets-max-connections",
        {"config": {"extra": {"max_connections": 1000}}},
        ["config.extra.max_connections", "config.maxConnections"],
    ),
]


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_bad_values_are_refused(values: dict[str, Any], fragments: list[str], helm: str) -> None:
    assert_refused("postgres", values, fragments, helm)


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 8


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
def test_good_values_still_render(helm: str) -> None:
    """The guards must not refuse their valid neighbours."""
    good = {
        "persistence": {"size": "20Gi", "accessMode": "ReadWriteOnce"},
        "config": {"maxConnections": 550, "extra": {"statement_timeout": "30s"}},
        "backup": {"enabled": True, "retention": 1, "schedule": "@daily"},
        "service": {"port": 65535},
        "image": {"tag": "0.8.0-pg17", "digest": "sha256:" + "0" * 64},
        "global": {"postgres": {"username": "app_user", "database": "app_db", "passwordKey": "db.password"}},
        "initdb": {"scripts": {"10-extra.sql": "SELECT 1;", "20-x.sh": "true", "30-y.sql.gz": "x"}},
    }
    docs = render("postgres", good, helm=helm, kube_version=KUBE_FLOOR)
    assert any(d["kind"] == "StatefulSet" for d in docs)
