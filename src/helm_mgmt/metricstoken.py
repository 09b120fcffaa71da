"""A long-lived token for Prometheus to scrape Clipper's /debug/metrics.

Clipper serves its metrics only to an admin, authenticated by an access token: an RS256 JWT signed
with the backend's JWT_PRIVATE_KEY whose ``sub`` is a user with role ``admin`` (the application's
own tokens last 15 minutes). This signs one for a dedicated service user, with a lifetime the
operator chooses, and stores it in the Secret the backend chart's ServiceMonitor reads.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from helm_mgmt.kube import kubectl, kubectl_json

SCRAPER_USERNAME = "prometheus-scraper"


class TokenError(RuntimeError):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(private_key_pem: str, user_id: str, ttl_seconds: int, now: int | None = None, role: str = "admin") -> str:
    """An access token as Clipper's own jwt package makes them (sub, role, jti, iat, nbf, exp),
    signed with openssl so that no crypto library is needed."""
    if "PRIVATE KEY-----" not in private_key_pem:
        raise TokenError("JWT_PRIVATE_KEY is not a PEM private key")
    issued = int(time.time()) if now is None else now
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "sub": user_id,
        "role": role,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        key.touch(mode=0o600)
        key.write_text(private_key_pem)
        signed = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(key)], input=signing_input.encode(), capture_output=True
        )
    if signed.returncode != 0:
        raise TokenError(f"openssl could not sign with JWT_PRIVATE_KEY: {signed.stderr.decode().strip()}")
    return f"{signing_input}.{_b64url(signed.stdout)}"


def secret_value(namespace: str, secret: str, key: str) -> str:
    try:
        data = kubectl_json(["get", "secret", secret, "-n", namespace]).get("data") or {}
    except RuntimeError as err:
        raise TokenError(f"cannot read Secret {namespace}/{secret}: {err}") from err
    if key not in data:
        raise TokenError(f"Secret {namespace}/{secret} has no key {key}")
    return base64.b64decode(data[key]).decode()


def ensure_user(namespace: str, postgres_pod: str, username: str, display_name: str, role: str) -> str:
    """Create (or restore to ``role``, unbanned) a user in the chart's PostgreSQL; return its id."""
    query = (
        "INSERT INTO users (twitch_id, username, display_name, role) "
        f"VALUES ('{username}', '{username}', '{display_name}', '{role}') "
        f"ON CONFLICT (twitch_id) DO UPDATE SET role = '{role}', is_banned = false RETURNING id"
    )
    shell = (
        'PGPASSWORD="$(cat "$POSTGRES_APP_PASSWORD_FILE")" '
        'psql -h 127.0.0.1 -U "$POSTGRES_APP_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -tAqc "$Q"'
    )
    try:
        out = kubectl(
            ["exec", "-n", namespace, postgres_pod, "-c", "postgres", "--", "env", f"Q={query}", "sh", "-c", shell]
        )
    except RuntimeError as err:
        raise TokenError(f"cannot create the user {username} in {namespace}/{postgres_pod}: {err}") from err
    user_id = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    try:
        return str(uuid.UUID(user_id))
    except ValueError as err:
        raise TokenError(f"PostgreSQL did not return the id of {username}: {out.stdout!r} {out.stderr!r}") from err


def store(namespace: str, secret: str, token: str, release: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "clipper", "app.kubernetes.io/instance": release},
        },
        "type": "Opaque",
        "stringData": {"token": token},
    }
    kubectl(
        ["apply", "-f", "-", "--server-side", "--force-conflicts", "--field-manager", "helm-mgmt"],
        stdin=json.dumps(manifest),
    )


def scoped_name(release: str, chart: str) -> str:
    """The charts' fullname rule (clipper-common.releaseScopedName): <release>-<chart>, or the
    release alone when it already contains the chart's name."""
    return release if chart in release else f"{release}-{chart}"


def issue(
    namespace: str,
    release: str,
    ttl_seconds: int,
    secret: str | None = None,
    jwt_secret: str | None = None,
    user_id: str | None = None,
    dry_run: bool = False,
) -> dict:
    """Sign a scrape token for the release's backend and (unless ``dry_run``) store it; return
    where it went, for whom and until when."""
    backend = scoped_name(release, "backend")
    key = secret_value(namespace, jwt_secret or backend, "JWT_PRIVATE_KEY")
    postgres = f"{scoped_name(release, 'postgres')}-0"
    user = user_id or ensure_user(namespace, postgres, SCRAPER_USERNAME, "Prometheus", "admin")
    secret = secret or f"{backend}-metrics-token"
    token = mint(key, user, ttl_seconds)
    if not dry_run:
        store(namespace, secret, token, release)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl_seconds))
    return {"secret": f"{namespace}/{secret}", "user_id": user, "expires": expires, "stored": not dry_run}
