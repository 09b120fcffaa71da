"""Values the redis chart must refuse, each with a message naming the value (and, for the template
checks, the fix). Run on the newest Helm and on the oldest supported one: their schema messages differ."""

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


# (id, values, fragments the message must contain)
CASES: list[BadValuesCase] = [
    *exporter_required_cases(),
    ("memory-ratio-above-one", {"metrics": {"prometheusRule": {"memoryRatio": 90}}}, ["memoryRatio"]),
    ("scrape-interval-malformed", {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}}, ["interval"]),
    # schema: ranges, types, enums, unknown keys
    ("maxmemory-percent-zero", {"config": {"maxmemoryPercent": 0}}, ["maxmemoryPercent"]),
    ("maxmemory-percent-120", {"config": {"maxmemoryPercent": 120}}, ["maxmemoryPercent"]),
    ("maxmemory-percent-string", {"config": {"maxmemoryPercent": "75%"}}, ["maxmemoryPercent"]),
    ("maxmemory-not-a-quantity", {"config": {"maxmemory": "lots"}}, ["maxmemory"]),
    ("memory-limit-not-a-quantity", {"resources": {"limits": {"memory": "1 GB"}}}, ["memory"]),
    ("memory-limit-missing", {"resources": {"limits": {"memory": None}}}, ["memory"]),
    ("cpu-not-a-quantity", {"resources": {"requests": {"cpu": "fast"}}}, ["cpu"]),
    ("policy-not-in-enum", {"config": {"maxmemoryPolicy": "lru"}}, ["maxmemoryPolicy"]),
    ("appendfsync-not-in-enum", {"config": {"appendfsync": "sometimes"}}, ["appendfsync"]),
    ("save-rule-malformed", {"config": {"save": ["every minute"]}}, ["save"]),
    ("disable-command-with-space", {"config": {"disableCommands": ["FLUSH ALL"]}}, ["disableCommands"]),
    ("unknown-key", {"replicas": 3}, ["replicas"]),
    ("unknown-nested-key", {"config": {"maxmemorypolicy": "allkeys-lru"}}, ["maxmemorypolicy"]),
    ("service-port-zero", {"service": {"port": 0}}, ["port"]),
    ("service-port-too-high", {"service": {"port": 70000}}, ["port"]),
    ("metrics-port-string", {"metrics": {"port": "9121"}}, ["port"]),
    ("access-mode-invalid", {"persistence": {"accessMode": "ReadWriteSometimes"}}, ["accessMode"]),
    ("size-not-a-quantity", {"persistence": {"size": "5 GB"}}, ["size"]),
    (
        "retention-policy-invalid",
        {"persistence": {"retentionPolicy": {"whenDeleted": "Keep"}}},
        ["whenDeleted"],
    ),
    ("tag-latest", {"image": {"tag": "latest"}}, ['image.tag "latest"', "set image.tag to a version"]),
    (
        "exporter-tag-latest",
        {"metrics": {"enabled": True, "image": {"tag": "latest"}}},
        ['metrics.image.tag "latest"', "set metrics.image.tag to a version"],
    ),
    ("digest-malformed", {"image": {"digest": "sha256:abc"}}, ["digest"]),
    ("two-replicas", {"replicaCount": 2}, ["replicaCount"]),
    ("zero-replicas", {"replicaCount": 0}, ["replicaCount"]),
    ("root-user", {"securityContext": {"runAsNonRoot": False}}, ["runAsNonRoot"]),
    ("privilege-escalation", {"securityContext": {"allowPrivilegeEscalation": True}}, ["allowPrivilegeEscalation"]),
    ("security-context-typo", {"securityContext": {"runAsUsr": 1000}}, ["runAsUsr"]),
    ("capability-added", {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}, ["add"]),
    (
        "netpol-monitoring-namespace-empty",
        {"metrics": {"enabled": True}, "networkPolicy": {"monitoring": {"namespace": ""}}},
        ["networkPolicy.monitoring.namespace is required"],
    ),
    (
        "extra-env-twice",
        {"extraEnv": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
        ['extraEnv lists "A" twice'],
    ),
    (
        "local-value-a-global-overrides",
        {"global": {"redis": {"existingSecret": "shared"}}, "auth": {"existingSecret": "local"}},
        ["auth.existingSecret (local) has no effect", "global.redis.existingSecret (shared) wins"],
    ),
    (
        "storage-class-a-global-overrides",
        {"global": {"storageClass": "shared"}, "persistence": {"storageClassName": "fast"}},
        ["persistence.storageClassName (fast) has no effect", "global.storageClass (shared) wins"],
    ),
    (
        "renamed-password-key",
        {"auth": {"existingSecretPasswordKey": "pw"}},
        ["auth.existingSecretPasswordKey was renamed to auth.passwordKey"],
    ),
    (
        "renamed-retention-policy",
        {"persistence": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}},
        ["persistence.persistentVolumeClaimRetentionPolicy was renamed to persistence.retentionPolicy"],
    ),
    (
        "every-mistake-in-one-run",
        {"image": {"tag": "latest"}, "config": {"maxmemory": "1Gi", "extraConfig": "port 7000"}},
        [
            "chart redis have 3 problem(s)",
            'image.tag "latest"',
            'config.maxmemory "1Gi"',
            "config.extraConfig sets port",
        ],
    ),
    ("env-value-not-string", {"extraEnv": [{"name": "A", "value": 1}]}, ["value"]),
    ("probe-success-threshold", {"livenessProbe": {"successThreshold": 2}}, ["successThreshold"]),
    ("password-with-newline", {"auth": {"password": "a\nb"}}, ["password"]),
    # template checks: the message names the values and says what to do
    (
        "maxmemory-above-limit",
        {"config": {"maxmemory": "600Mi"}},
        ['config.maxmemory "600Mi"', 'resources.limits.memory "512Mi"', "lower config.maxmemory or raise the limit"],
    ),
    (
        "maxmemory-equal-to-limit",
        {"config": {"maxmemory": "1Gi"}, "resources": {"limits": {"memory": "1024Mi"}}},
        ['config.maxmemory "1Gi"', 'resources.limits.memory "1024Mi"', "lower config.maxmemory or raise the limit"],
    ),
    (
        "auth-disabled-without-opt-in",
        {"auth": {"enabled": False}},
        ["auth.enabled is false", "auth.allowUnauthenticated=true"],
    ),
    (
        "auth-disabled-with-protected-mode",
        {"auth": {"enabled": False, "allowUnauthenticated": True}},
        ["config.protectedMode is true", "set config.protectedMode=false"],
    ),
    (
        "password-and-existing-secret",
        {"auth": {"password": "x", "existingSecret": "vault-redis"}},
        ["auth.password", "remove auth.password or the existing Secret"],
    ),
    (
        "password-and-global-secret",
        {"auth": {"password": "x"}, "global": {"redis": {"existingSecret": "shared"}}},
        ["global.redis.existingSecret", "remove auth.password or the existing Secret"],
    ),
]


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_bad_values_are_refused(values: dict[str, Any], fragments: list[str], helm: str) -> None:
    assert_refused("redis", values, fragments, helm)


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
def test_good_values_still_render(helm: str) -> None:
    """The cases above fail because of the bad value, not because the chart never renders."""
    docs = render("redis", {"config": {"maxmemory": "500Mi"}}, helm=helm, kube_version=KUBE_FLOOR)
    assert any(d["kind"] == "StatefulSet" for d in docs)
