"""Values the umbrella chart must refuse: cross-chart checks (connection budget, external servers,
competing ingresses), site routing (host, TLS, issuer, /debug, Ingress vs HTTPRoute) and its schema.
Each message names the value and, for the template checks, says how to fix it."""

from __future__ import annotations

import pytest
from charttest import BAD_VALUES_HELMS, assert_refused, bad_values_params

CASES = [
    (
        "ingress-without-host",
        {"global": {"host": ""}, "ingress": {"hosts": []}},
        ["the site has no host", "set global.host"],
    ),
    (
        "tls-without-secret-name",
        {"ingress": {"tls": [{"hosts": ["clpr.tv"]}]}},
        ["ingress.tls[0] has no secretName", "name the Secret"],
    ),
    (
        "tls-with-empty-issuer",
        {"ingress": {"certManager": {"issuer": ""}}},
        ["ingress.certManager.issuer is empty", "name the issuer"],
    ),
    (
        "ingress-and-httproute",
        {"httpRoute": {"enabled": True}},
        ["ingress.enabled and httpRoute.enabled are both true", "httpRoute.allowWithIngress=true"],
    ),
    (
        "httproute-without-parent",
        {"ingress": {"enabled": False}, "httpRoute": {"enabled": True, "parentRefs": []}},
        ["httpRoute.parentRefs is empty", "name the Gateway"],
    ),
    (
        "max-connections-below-hpa",
        {"backend": {"autoscaling": {"maxReplicas": 20}}, "postgres": {"config": {"maxConnections": 300}}},
        [
            "postgres.config.maxConnections (300)",
            "backend.autoscaling.maxReplicas (20)",
            "= 538",
            "raise postgres.config.maxConnections to 538",
        ],
    ),
    (
        "max-connections-below-replicas",
        {"backend": {"autoscaling": {"enabled": False}, "replicaCount": 12}},
        ["postgres.config.maxConnections (300)", "backend.replicaCount (12)", "= 338"],
    ),
    (
        "external-postgres-without-host",
        {"postgres": {"enabled": False}},
        ["backend.database.host is empty", "set backend.database.host"],
    ),
    (
        "external-redis-without-host",
        {"redis": {"enabled": False}},
        ["backend.redis.host is empty", "set backend.redis.host"],
    ),
    (
        "subchart-ingress-on-site-host",
        {"backend": {"ingress": {"enabled": True}}},
        [
            "backend.ingress.enabled is true for host clpr.tv",
            "compete for one TLS secret",
            "backend.ingress.enabled=false",
        ],
    ),
    (
        "frontend-ingress-on-site-host",
        {"frontend": {"ingress": {"enabled": True}}},
        ["frontend.ingress.enabled is true for host clpr.tv", "compete for one TLS secret"],
    ),
    (
        "debug-routed-to-backend",
        {"ingress": {"backendPaths": [{"path": "/debug", "pathType": "Prefix"}]}},
        ['"/debug"', "expose /debug", "route only the public backend paths"],
    ),
    (
        "root-routed-to-backend",
        {"ingress": {"backendPaths": [{"path": "/", "pathType": "Prefix"}]}},
        ['"/"', "expose /debug"],
    ),
    (
        "ingress-without-frontend",
        {"frontend": {"enabled": False}},
        ["frontend.enabled is false", "enable the frontend or disable ingress.enabled"],
    ),
    ("unknown-key", {"ingres": {"enabled": True}}, ["ingres"]),
    ("unknown-ingress-key", {"ingress": {"clusterIssuer": "x"}}, ["clusterIssuer"]),
    ("host-not-a-dns-name", {"global": {"host": "https://clpr.tv/"}}, ["host"]),
    ("issuer-kind-unknown", {"ingress": {"certManager": {"issuerKind": "Vault"}}}, ["issuerKind"]),
    (
        "path-type-implementation-specific",
        {"ingress": {"backendPaths": [{"path": "/api", "pathType": "ImplementationSpecific"}]}},
        ["pathType"],
    ),
    ("subchart-not-an-object", {"backend": "off"}, ["backend"]),
    # subchart schemas and checks still apply inside the umbrella
    ("frontend-port-zero", {"frontend": {"containerPort": 0}}, ["containerPort"]),
    (
        "frontend-min-above-max",
        {"frontend": {"autoscaling": {"minReplicas": 11, "maxReplicas": 10}}},
        ["autoscaling.minReplicas (11)", "autoscaling.maxReplicas (10)", "lower minReplicas or raise maxReplicas"],
    ),
]


@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_umbrella_refuses_bad_values(values, fragments, helm):
    assert_refused("clipper", values, fragments, helm)
