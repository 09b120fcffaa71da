"""Values the backend chart must refuse, each with a message naming the value (and, for the
template checks, the fix). Run on the newest Helm and on the oldest supported one."""

from __future__ import annotations

import pytest
from charttest import BAD_VALUES_HELMS, assert_refused, bad_values_params

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----\n"
MFA = "0123456789abcdef0123456789abcdef"
# Valid app secrets, so that a case fails for its own reason and renders skip RSA generation.
KEYS = {"JWT_PRIVATE_KEY": PEM, "MFA_ENCRYPTION_KEY": MFA}
SINGLE = {"autoscaling": {"enabled": False}, "replicaCount": 1, "podDisruptionBudget": {"enabled": False}}
EXTERNAL = {"enabled": True, "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"}}


# (id, values, fragments every message must contain)
CASES = [
    # --- schema: types, ranges, unknown keys
    ("error-ratio-above-one", {"metrics": {"prometheusRule": {"errorRatio": 5}}}, ["errorRatio"]),
    ("down-for-malformed", {"metrics": {"prometheusRule": {"downFor": "two minutes"}}}, ["downFor"]),
    ("metrics-token-key-invalid", {"metrics": {"serviceMonitor": {"tokenSecret": {"key": "a token"}}}}, ["key"]),
    ("unknown-key", {"replicas": 3}, ["replicas"]),
    ("unknown-nested-key", {"database": {"hostname": "pg"}}, ["hostname"]),
    ("replica-count-negative", {"replicaCount": -1}, ["replicaCount"]),
    ("replica-count-as-string", {"replicaCount": "two"}, ["replicaCount"]),
    ("port-too-high", {"containerPort": 70000}, ["containerPort"]),
    ("db-port-zero", {"database": {"port": 0}}, ["port"]),
    ("cpu-target-zero", {"autoscaling": {"targetCPUUtilizationPercentage": 0}}, ["targetCPUUtilizationPercentage"]),
    ("cpu-target-150", {"autoscaling": {"targetCPUUtilizationPercentage": 150}}, ["targetCPUUtilizationPercentage"]),
    ("memory-not-a-quantity", {"resources": {"limits": {"memory": "1 GB"}}}, ["memory"]),
    ("cpu-not-a-quantity", {"resources": {"requests": {"cpu": "lots"}}}, ["cpu"]),
    ("export-size-not-a-quantity", {"exports": {"persistence": {"size": "big"}}}, ["size"]),
    ("tag-latest", {"image": {"tag": "latest"}}, ["tag"]),
    ("digest-malformed", {"image": {"digest": "sha256:abc"}}, ["digest"]),
    ("sslmode-unknown", {"database": {"sslmode": "sometimes"}}, ["sslmode"]),
    ("readiness-timeout-below-ping", {"readinessProbe": {"timeoutSeconds": 3}}, ["timeoutSeconds"]),
    ("store-kind-unknown", {"externalSecret": {"secretStoreRef": {"kind": "VaultStore"}}}, ["kind"]),
    ("anti-affinity-preset-unknown", {"podAntiAffinityPreset": "maybe"}, ["podAntiAffinityPreset"]),
    ("security-context-typo", {"securityContext": {"runAsNonroot": True}}, ["runAsNonroot"]),
    (
        "scale-policy-unknown-type",
        {
            "autoscaling": {
                "behavior": {"scaleUp": {"policies": [{"type": "Percentage", "value": 1, "periodSeconds": 1}]}}
            }
        },
        ["type"],
    ),
    ("migration-hook-unknown", {"migrations": {"hooks": "pre-rollback"}}, ["hooks"]),
    # --- template checks: the message names the value and the fix
    (
        "min-above-max",
        {"autoscaling": {"minReplicas": 12, "maxReplicas": 10}},
        ["autoscaling.minReplicas (12)", "autoscaling.maxReplicas (10)", "lower minReplicas or raise maxReplicas"],
    ),
    (
        "pdb-blocks-drains",
        {"autoscaling": {"enabled": False}, "replicaCount": 1, "secrets": {"values": KEYS}},
        ["podDisruptionBudget.minAvailable (1)", "raise the replicas or lower minAvailable"],
    ),
    (
        "mfa-key-wrong-length",
        {"secrets": {"values": {"MFA_ENCRYPTION_KEY": "too-short"}}},
        ["secrets.values.MFA_ENCRYPTION_KEY", "32 bytes", "9 characters", "openssl rand -base64 32"],
    ),
    (
        "jwt-key-not-pem",
        {"secrets": {"values": {"JWT_PRIVATE_KEY": "secret", "MFA_ENCRYPTION_KEY": MFA}}},
        ["secrets.values.JWT_PRIVATE_KEY", "PEM", "openssl genrsa"],
    ),
    (
        "mfa-key-missing-without-generation",
        {**SINGLE, "secrets": {"generate": False}},
        ["secrets.values.MFA_ENCRYPTION_KEY is empty", "secrets.generate is false", "openssl rand -base64 32"],
    ),
    (
        "replicas-without-jwt-key",
        {"secrets": {"generate": False, "values": {"MFA_ENCRYPTION_KEY": MFA}}},
        ["autoscaling.maxReplicas=10", "JWT_PRIVATE_KEY", "logins would break across replicas", "set secrets.generate"],
    ),
    (
        "replica-count-without-jwt-key",
        {
            "autoscaling": {"enabled": False},
            "replicaCount": 3,
            "secrets": {"generate": False, "values": {"MFA_ENCRYPTION_KEY": MFA}},
        },
        ["replicaCount=3", "logins would break across replicas"],
    ),
    (
        "external-secret-without-jwt-key",
        {"externalSecret": {**EXTERNAL, "keys": ["MFA_ENCRYPTION_KEY"]}},
        ["externalSecret.keys lacks JWT_PRIVATE_KEY", "logins would break across replicas", "Add JWT_PRIVATE_KEY"],
    ),
    (
        "external-secret-without-mfa-key",
        {"externalSecret": {**EXTERNAL, "keys": ["JWT_PRIVATE_KEY"]}},
        ["externalSecret.keys lacks MFA_ENCRYPTION_KEY", "Add MFA_ENCRYPTION_KEY"],
    ),
    (
        "external-secret-without-store",
        {"externalSecret": {"enabled": True}},
        ["externalSecret.secretStoreRef.name is empty", "name the SecretStore"],
    ),
    (
        "two-secret-sources-existing-and-external",
        {"secrets": {"existingSecret": "mine"}, "externalSecret": EXTERNAL},
        [
            "more than one source of app secrets",
            "secrets.existingSecret",
            "externalSecret.enabled",
            "Choose exactly one",
        ],
    ),
    (
        "two-secret-sources-existing-and-values",
        {"secrets": {"existingSecret": "mine", "values": {"SENDGRID_API_KEY": "SG.x"}}},
        ["more than one source of app secrets", "secrets.values.SENDGRID_API_KEY", "Choose exactly one"],
    ),
    (
        "migrations-without-source",
        {"migrations": {"enabled": True}, "secrets": {"values": KEYS}},
        ["migrations.enabled is true but no migrations are configured", "migrations.source.configMap"],
    ),
    (
        "migrations-with-two-sources",
        {
            "migrations": {"enabled": True, "source": {"configMap": "m", "image": {"repository": "x/m", "tag": "1"}}},
            "secrets": {"values": KEYS},
        },
        ["migrations.source.configMap and migrations.source.image.repository are both set", "choose one"],
    ),
    (
        "extra-config-unread-setting",
        {"extraConfig": {"LOG_LEVEL": "debug"}, "secrets": {"values": KEYS}},
        ["extraConfig.LOG_LEVEL is not read by the Clipper backend", "remove it"],
    ),
    (
        "extra-config-dead-rate-limit",
        {"extraConfig": {"RATE_LIMIT_UNAUTH_REQUESTS": "50"}, "secrets": {"values": KEYS}},
        ["extraConfig.RATE_LIMIT_UNAUTH_REQUESTS is not read by the Clipper backend", "RATE_LIMIT_WHITELIST_IPS"],
    ),
    (
        "published-image-as-non-root",
        {"image": {"repository": "ghcr.io/subculture-collective/clipper/backend"}, "secrets": {"values": KEYS}},
        [
            "image.repository is ghcr.io/subculture-collective/clipper/backend",
            "as uid 65532 it cannot start",
            "images/backend/Containerfile",
        ],
    ),
    (
        "published-image-through-a-mirror",
        {
            "image": {"repository": "mirror.example.com/subculture-collective/clipper/backend"},
            "securityContext": {"runAsUser": 1000},
            "secrets": {"values": KEYS},
        },
        ["the published backend image", "as uid 1000"],
    ),
    (
        "migrations-nothing-to-run-them",
        {
            "migrations": {"enabled": True, "initContainer": False, "hookJob": False, "source": {"configMap": "m"}},
            "secrets": {"values": KEYS},
        },
        ["migrations.initContainer and migrations.hookJob are both false"],
    ),
    (
        "migrations-source-path-is-the-copy",
        {
            "migrations": {
                "enabled": True,
                "source": {"image": {"repository": "x/m", "tag": "1"}, "path": "/run/migrations"},
            },
            "secrets": {"values": KEYS},
        },
        ["migrations.source.path is /run/migrations", "overwrite its own source"],
    ),
    (
        "extra-config-chart-owned",
        {"extraConfig": {"DB_HOST": "pg"}, "secrets": {"values": KEYS}},
        ["extraConfig.DB_HOST is set by the chart", "database.*"],
    ),
    (
        "extra-config-secret",
        {"extraConfig": {"STRIPE_SECRET_KEY": "sk_live"}, "secrets": {"values": KEYS}},
        ["extraConfig.STRIPE_SECRET_KEY looks like a secret", "secrets.values"],
    ),
    (
        "prestop-longer-than-grace",
        {"preStop": {"sleepSeconds": 30}, "secrets": {"values": KEYS}},
        ["terminationGracePeriodSeconds (30)", "preStop pause (30 s)", "raise terminationGracePeriodSeconds"],
    ),
    (
        "renamed-password-key",
        {"database": {"existingSecretPasswordKey": "pw"}, "secrets": {"values": KEYS}},
        ["database.existingSecretPasswordKey was renamed to database.passwordKey", "move the value (pw)"],
    ),
    (
        "renamed-prestop-command",
        {"preStop": {"command": ["sleep", "5"]}, "secrets": {"values": KEYS}},
        ["preStop.command was renamed to preStop.sleepSeconds"],
    ),
    (
        "local-value-a-global-overrides",
        {"global": {"postgres": {"username": "app"}}, "database": {"user": "other"}, "secrets": {"values": KEYS}},
        ["database.user (other) has no effect", "global.postgres.username (app) wins", "remove database.user"],
    ),
    (
        "every-mistake-in-one-run",
        {
            "image": {"tag": "latest"},
            "autoscaling": {"minReplicas": 12, "maxReplicas": 10},
            "extraEnv": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
            "ingress": {"enabled": True, "paths": ["/debug"]},
            "secrets": {"values": KEYS},
        },
        [
            "chart backend have 4 problem(s)",
            'image.tag "latest"',
            "autoscaling.minReplicas (12)",
            'extraEnv lists "A" twice',
            'ingress.paths contains "/debug"',
        ],
    ),
    (
        "ingress-exposes-debug",
        {"ingress": {"enabled": True, "paths": ["/api", "/debug"]}, "secrets": {"values": KEYS}},
        ['ingress.paths contains "/debug"', "list only the backend routes"],
    ),
    (
        "ingress-root-path",
        {"ingress": {"enabled": True, "paths": ["/"]}, "secrets": {"values": KEYS}},
        ['ingress.paths contains "/"', "/debug"],
    ),
    (
        "ingress-tls-without-secret",
        {"ingress": {"enabled": True, "tls": [{"hosts": ["clpr.tv"]}]}, "secrets": {"values": KEYS}},
        ["ingress.tls[0].secretName is empty", "name the Secret"],
    ),
    (
        "ingress-without-host",
        {
            "host": "",
            "config": {"BASE_URL": "https://a.example", "CORS_ALLOWED_ORIGINS": "x", "WEBSOCKET_ALLOWED_ORIGINS": "x"},
            "ingress": {"enabled": True},
            "secrets": {"values": KEYS},
        },
        ["no host is set", "ingress.hosts"],
    ),
    (
        "host-empty",
        {"host": "", "secrets": {"values": KEYS}},
        ["host (and global.host) is empty", "config.BASE_URL has no default", "set host"],
    ),
    ("host-invalid", {"host": "https://clpr.tv"}, ["host"]),
    (
        "extra-env-duplicate",
        {"extraEnv": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], "secrets": {"values": KEYS}},
        ['extraEnv lists "A" twice', "keep one entry"],
    ),
    (
        "extra-volume-clash",
        {"extraVolumes": [{"name": "tmp", "emptyDir": {}}], "secrets": {"values": KEYS}},
        ['extraVolumes entry "tmp"', "rename it"],
    ),
    (
        "sidecar-name-clash",
        {"sidecars": [{"name": "backend", "image": "x/y:1"}], "secrets": {"values": KEYS}},
        ['entry "backend" clashes', "rename it"],
    ),
]


@pytest.mark.helm
@pytest.mark.parametrize("helm", BAD_VALUES_HELMS)
@pytest.mark.parametrize(("values", "fragments"), bad_values_params(CASES))
def test_backend_refuses_bad_values(values, fragments, helm):
    assert_refused("backend", values, fragments, helm)


def test_cases_are_distinct():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 8
