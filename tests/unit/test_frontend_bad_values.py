"""Values the frontend chart must refuse, each with a message naming the value (and, for the
template checks, the fix). Run on the newest Helm and on the oldest supported one."""

from __future__ import annotations

import pytest
from charttest import BAD_VALUES_HELMS, assert_refused, bad_values_params, exporter_required_cases

# (id, values, fragments every message must contain)
CASES = [
    *exporter_required_cases(),
    ("stub-status-url-not-a-url", {"metrics": {"stubStatusUrl": "127.0.0.1:8081"}}, ["stubStatusUrl"]),
    ("exporter-tag-latest", {"metrics": {"image": {"tag": "latest"}}}, ["tag"]),
    ("port-zero", {"containerPort": 0}, ["containerPort"]),
    ("port-too-high", {"containerPort": 70000}, ["containerPort"]),
    ("service-port-zero", {"service": {"port": 0}}, ["port"]),
    ("unknown-key", {"replicas": 3}, ["replicas"]),
    ("unknown-nested-key", {"autoscaling": {"maxReplica": 3}}, ["maxReplica"]),
    ("replica-count-zero", {"replicaCount": 0}, ["replicaCount"]),
    ("cpu-not-a-quantity", {"resources": {"requests": {"cpu": "lots"}}}, ["cpu"]),
    ("memory-not-a-quantity", {"resources": {"limits": {"memory": "1 GB"}}}, ["memory"]),
    (
        "cpu-target-over-100",
        {"autoscaling": {"targetCPUUtilizationPercentage": 150}},
        ["targetCPUUtilizationPercentage"],
    ),
    ("port-as-string", {"containerPort": "eighty"}, ["containerPort"]),
    ("tag-latest", {"image": {"tag": "latest"}}, ["tag"]),
    ("digest-malformed", {"image": {"digest": "sha256:abc"}}, ["digest"]),
    ("pull-policy-unknown", {"image": {"pullPolicy": "Sometimes"}}, ["pullPolicy"]),
    ("root-user", {"securityContext": {"runAsNonRoot": False}}, ["runAsNonRoot"]),
    (
        "min-above-max",
        {"autoscaling": {"minReplicas": 12, "maxReplicas": 10}},
        ["autoscaling.minReplicas (12)", "autoscaling.maxReplicas (10)", "lower minReplicas or raise maxReplicas"],
    ),
    (
        "prestop-longer-than-grace",
        {"preStop": {"sleepSeconds": 30}, "terminationGracePeriodSeconds": 30},
        ["preStop.sleepSeconds (30)", "terminationGracePeriodSeconds (30)", "lower preStop.sleepSeconds"],
    ),
    (
        "netpol-monitoring-namespace-empty",
        {"networkPolicy": {"monitoring": {"enabled": True, "namespace": ""}}},
        ["networkPolicy.monitoring.namespace is required", "Prometheus"],
    ),
    ("renamed-prestop", {"preStopSleepSeconds": 5}, ["preStopSleepSeconds was renamed to preStop.sleepSeconds"]),
    (
        "extra-env-twice",
        {"extraEnv": [{"name": "TZ", "value": "UTC"}, {"name": "TZ", "value": "CET"}]},
        ['extraEnv lists "TZ" twice', "keep one entry"],
    ),
    (
        "every-mistake-in-one-run",
        {"image": {"tag": "latest"}, "preStop": {"sleepSeconds": 40}, "ingress": {"enabled": True, "hosts": []}},
        [
            "chart frontend have 3 problem(s)",
            'image.tag "latest"',
            "preStop.sleepSeconds (40)",
            "ingress.hosts is empty",
        ],
    ),
    (
        "pdb-blocks-drains",
        {"autoscaling": {"enabled": False}, "replicaCount": 1},
        ["podDisruptionBudget.minAvailable (1)", "raise the replicas or lower minAvailable"],
    ),
    (
        "ingress-without-host",
        {"ingress": {"enabled": True, "hosts": []}},
        ["ingress.hosts is empty", "add a host"],
    ),
    (
        "ingress-tls-without-secret",
        {"ingress": {"enabled": True, "tls": [{"hosts": ["clpr.tv"]}]}},
        ["ingress.tls[0] has no secretName", "name the Secret"],
    ),
    (
        "extra-volume-clash",
        {"extraVolumes": [{"name": "tmp", "emptyDir": {}}]},
        ['extraVolumes entry "tmp"', "rename it"],
    ),
]


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_frontend_refuses_bad_values(values, fragments, helm):
    assert_refused("frontend", values, fragments, helm)
