"""Values that would break the wiring between the Clipper charts and must be refused: renamed
subcharts, connection settings set on one side only, ports and Redis authentication that disagree,
an exports volume that cannot attach to every pod, a connection budget without the rolling-update
surge, managed settings overridden through extraEnv / extraConfig, an unprotected site, a PDB that
blocks every drain, and typos in the umbrella's globals. Each case runs on the newest and the oldest
supported Helm (their schema messages differ); template failures name the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from charttest import render_error

HELMS = ["helm4", "helm3-oldest"]
KEYS = {"MFA_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef"}

# (id, chart, values, fragments that must all appear in the error)
CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    # H1: renaming a wired subchart
    (
        "postgres-fullname-override",
        "clipper",
        {"postgres": {"fullnameOverride": "db"}},
        ["postgres.fullnameOverride (db) is not supported in the umbrella", "remove postgres.fullnameOverride"],
    ),
    (
        "redis-fullname-override",
        "clipper",
        {"redis": {"fullnameOverride": "cache"}},
        ["redis.fullnameOverride (cache) is not supported", "choose the release name instead"],
    ),
    (
        "postgres-name-override",
        "clipper",
        {"postgres": {"nameOverride": "pg"}},
        ["postgres.nameOverride (pg)", "app.kubernetes.io/name: postgres", "remove postgres.nameOverride"],
    ),
    (
        "backend-name-override",
        "clipper",
        {"backend": {"nameOverride": "api"}},
        ["backend.nameOverride (api)", "remove backend.nameOverride"],
    ),
    # H2: one source of truth
    (
        "backend-database-user",
        "clipper",
        {"backend": {"database": {"user": "foo"}}},
        ["database.user (foo) has no effect", "set global.postgres.username=foo instead"],
    ),
    (
        "backend-database-name",
        "clipper",
        {"backend": {"database": {"name": "other"}}},
        ["database.name (other) has no effect", "set global.postgres.database=other instead"],
    ),
    (
        "backend-database-password-key",
        "clipper",
        {"backend": {"database": {"passwordKey": "pw"}}},
        ["database.passwordKey (pw) has no effect", "set global.postgres.passwordKey=pw instead"],
    ),
    (
        "backend-database-existing-secret",
        "clipper",
        {"backend": {"database": {"existingSecret": "db-auth"}}},
        [
            "backend.database.existingSecret is set in the umbrella",
            "set global.postgres.existingSecret=db-auth instead",
        ],
    ),
    (
        "backend-redis-existing-secret",
        "clipper",
        {"backend": {"redis": {"existingSecret": "r"}}},
        ["backend.redis.existingSecret is set in the umbrella", "set global.redis.existingSecret=r instead"],
    ),
    (
        "backend-redis-password-key",
        "clipper",
        {"backend": {"redis": {"passwordKey": "pw"}}},
        ["redis.passwordKey (pw) has no effect", "set global.redis.passwordKey=pw instead"],
    ),
    (
        "postgres-auth-username",
        "clipper",
        {"postgres": {"auth": {"username": "admin"}}},
        ["auth.username (admin) has no effect", "set global.postgres.username=admin instead"],
    ),
    (
        "postgres-auth-database",
        "clipper",
        {"postgres": {"auth": {"database": "other_db"}}},
        ["auth.database (other_db) has no effect", "set global.postgres.database=other_db instead"],
    ),
    (
        "postgres-auth-existing-secret",
        "clipper",
        {"postgres": {"auth": {"existingSecret": "pg"}}},
        ["postgres.auth.existingSecret is set in the umbrella", "set global.postgres.existingSecret=pg instead"],
    ),
    (
        "postgres-auth-password-key",
        "clipper",
        {"postgres": {"auth": {"passwordKey": "pw"}}},
        ["auth.passwordKey (pw) has no effect", "set global.postgres.passwordKey=pw instead"],
    ),
    (
        "postgres-auth-password",
        "clipper",
        {"postgres": {"auth": {"password": "a-long-password"}}},
        ["postgres.auth.password is set in the umbrella", "set global.postgres.password=<the password> instead"],
    ),
    (
        "redis-auth-existing-secret",
        "clipper",
        {"redis": {"auth": {"existingSecret": "rs"}}},
        ["redis.auth.existingSecret is set in the umbrella", "set global.redis.existingSecret=rs instead"],
    ),
    (
        "redis-auth-password-key",
        "clipper",
        {"redis": {"auth": {"passwordKey": "pw"}}},
        ["auth.passwordKey (pw) has no effect", "set global.redis.passwordKey=pw instead"],
    ),
    (
        "redis-auth-password",
        "clipper",
        {"redis": {"auth": {"password": "pw"}}},
        ["redis.auth.password is set in the umbrella", "set global.redis.password=<the password> instead"],
    ),
    (
        "every-cross-chart-mistake-in-one-run",
        "clipper",
        {
            "postgres": {"auth": {"existingSecret": "pg"}, "service": {"port": 5433}},
            "backend": {"redis": {"existingSecret": "r"}},
        },
        [
            "chart clipper have 3 problem(s)",
            "postgres.auth.existingSecret is set in the umbrella",
            "backend.redis.existingSecret is set in the umbrella",
            "postgres.service.port (5433) differs",
        ],
    ),
    # H3: ports and Redis authentication
    (
        "postgres-service-port",
        "clipper",
        {"postgres": {"service": {"port": 5433}}},
        ["postgres.service.port (5433) differs from backend.database.port (5432)", "set backend.database.port=5433"],
    ),
    (
        "redis-service-port",
        "clipper",
        {"redis": {"service": {"port": 6380}}},
        ["redis.service.port (6380) differs from backend.redis.port (6379)", "set backend.redis.port=6380"],
    ),
    (
        "redis-auth-off-backend-on",
        "clipper",
        {"redis": {"auth": {"enabled": False, "allowUnauthenticated": True}, "config": {"protectedMode": False}}},
        ["redis.auth.enabled is false but backend.redis.authEnabled is true", "set backend.redis.authEnabled=false"],
    ),
    (
        "backend-auth-off-redis-on",
        "clipper",
        {"backend": {"redis": {"authEnabled": False}}},
        ["backend.redis.authEnabled is false but redis.auth.enabled is true", "set backend.redis.authEnabled=true"],
    ),
    # M2: exports volume
    (
        "exports-rwo-with-hpa",
        "backend",
        {"exports": {"persistence": {"enabled": True}}},
        ["exports.persistence.enabled with accessMode ReadWriteOnce", "autoscaling.maxReplicas=10", "ReadWriteMany"],
    ),
    (
        "exports-rwo-with-replicas",
        "clipper",
        {
            "backend": {
                "autoscaling": {"enabled": False},
                "replicaCount": 2,
                "exports": {"persistence": {"enabled": True}},
            }
        },
        ["exports.persistence.enabled with accessMode ReadWriteOnce", "replicaCount=2", "run one replica"],
    ),
    # M5: connection budget includes the surge pod and the superuser slots
    (
        "connection-budget-surge",
        "clipper",
        {"postgres": {"config": {"maxConnections": 287}}},
        [
            "postgres.config.maxConnections (287)",
            "(10 + 1) x 25 + 10 headroom + 3 superuser_reserved_connections = 288",
        ],
    ),
    # M3: no generated password where lookup cannot work
    (
        "postgres-generate-off",
        "postgres",
        {"auth": {"generate": False}},
        ["auth.generate is false and no password is given", "set auth.password"],
    ),
    (
        "redis-generate-off",
        "redis",
        {"auth": {"generate": False}},
        ["auth.generate is false and no password is given", "set auth.password"],
    ),
    # L1: closed globals
    ("global-typo", "clipper", {"global": {"storageclass": "fast"}}, ["storageclass"]),
    # L2: frontend tag must be a string
    ("frontend-numeric-tag", "frontend", {"image": {"tag": 1.25}}, ["tag"]),
    # L3: Redis directives the chart manages
    (
        "redis-extra-maxmemory",
        "redis",
        {"config": {"extraConfig": "hz 20\nmaxmemory 10gb"}},
        ["config.extraConfig sets maxmemory", "use config.maxmemory"],
    ),
    (
        "redis-extra-requirepass",
        "redis",
        {"config": {"extraConfig": "requirepass hunter2"}},
        ["config.extraConfig sets requirepass", "use auth.*"],
    ),
    (
        "redis-extra-rename-command",
        "redis",
        {"config": {"extraConfig": "  RENAME-COMMAND FLUSHALL FA"}},
        ["config.extraConfig sets rename-command", "use config.disableCommands"],
    ),
    (
        "redis-extra-args-requirepass",
        "redis",
        {"extraArgs": ["--requirepass", "x"]},
        ["extraArgs sets --requirepass, which the chart manages", "use auth.*"],
    ),
    # L4: extraEnv must not replace what the chart sets
    (
        "backend-extra-env-db-host",
        "backend",
        {"extraEnv": [{"name": "DB_HOST", "value": "elsewhere"}], "secrets": {"values": KEYS}},
        ["extraEnv sets DB_HOST, which the chart sets itself", "remove the extraEnv entry"],
    ),
    (
        "backend-extra-env-redis-password",
        "backend",
        {"extraEnv": [{"name": "REDIS_PASSWORD", "value": "x"}], "secrets": {"values": KEYS}},
        ["extraEnv sets REDIS_PASSWORD", "remove the extraEnv entry"],
    ),
    (
        "backend-extra-env-port",
        "backend",
        {"extraEnv": [{"name": "PORT", "value": "9000"}], "secrets": {"values": KEYS}},
        ["extraEnv sets PORT", "use containerPort"],
    ),
    (
        "backend-extra-env-jwt",
        "backend",
        {"extraEnv": [{"name": "JWT_PRIVATE_KEY", "value": "x"}], "secrets": {"values": KEYS}},
        ["extraEnv sets JWT_PRIVATE_KEY", "secrets.*"],
    ),
    # L6: cert-manager on, nothing to issue
    (
        "site-tls-empty-with-cert-manager",
        "clipper",
        {"ingress": {"tls": []}},
        ["ingress.tls is empty while ingress.certManager.enabled is true", "ingress.allowPlainHTTP=true"],
    ),
    # L7: a 100% PDB blocks every drain
    (
        "pdb-100-percent",
        "backend",
        {"podDisruptionBudget": {"minAvailable": "100%"}},
        ["podDisruptionBudget.minAvailable (100%)", "use a lower percentage"],
    ),
    (
        "pdb-100-percent-frontend",
        "frontend",
        {"podDisruptionBudget": {"minAvailable": "100%"}},
        ["podDisruptionBudget.minAvailable (100%)", "node drains block forever"],
    ),
]


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize("chart, values, fragments", [pytest.param(c, v, f, id=i) for i, c, v, f in CASES])
def test_refused(chart: str, values: dict[str, Any], fragments: list[str], helm: str) -> None:
    message = render_error(chart, values, helm=helm)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in:\n{message}"
