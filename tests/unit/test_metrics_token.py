"""The scrape token helm-mgmt signs: a JWT that verifies with the key's public half and carries
the claims Clipper's jwt package reads (that the app accepts it is shown on the cluster)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from helm_mgmt import metricstoken


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("jwt")
    private = folder / "key.pem"
    public = folder / "pub.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)], check=True, capture_output=True
    )
    return private.read_text(), public


def test_token_verifies_and_carries_claims(key_pair, tmp_path) -> None:
    private, public = key_pair
    token = metricstoken.mint(private, "6f1c2b9e-1d0a-4c3e-9f7a-2b8d5e4c1a00", 90 * 86400, now=1_800_000_000)
    header, claims, signature = token.split(".")
    assert json.loads(b64url_decode(header)) == {"alg": "RS256", "typ": "JWT"}
    body = json.loads(b64url_decode(claims))
    assert body["sub"] == "6f1c2b9e-1d0a-4c3e-9f7a-2b8d5e4c1a00"
    assert body["role"] == "admin"
    assert body["exp"] - body["iat"] == 90 * 86400 and body["nbf"] == body["iat"] == 1_800_000_000
    (tmp_path / "sig").write_bytes(b64url_decode(signature))
    verify = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(public), "-signature", str(tmp_path / "sig")],
        input=f"{header}.{claims}".encode(),
        capture_output=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    tampered = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(public), "-signature", str(tmp_path / "sig")],
        input=f"{header}.{claims}x".encode(),
        capture_output=True,
    )
    assert tampered.returncode != 0


def test_each_token_has_its_own_id(key_pair) -> None:
    private, _ = key_pair
    first, second = (metricstoken.mint(private, "u", 3600, now=0).split(".")[1] for _ in range(2))
    assert json.loads(b64url_decode(first))["jti"] != json.loads(b64url_decode(second))["jti"]


def test_a_key_that_is_not_pem_is_refused() -> None:
    with pytest.raises(metricstoken.TokenError, match="not a PEM private key"):
        metricstoken.mint("secret", "u", 3600)


@pytest.mark.parametrize(
    ("release", "chart", "name"),
    [
        ("clipper", "backend", "clipper-backend"),
        ("my-backend", "backend", "my-backend"),
        ("shop", "postgres", "shop-postgres"),
    ],
)
def test_names_follow_the_charts_fullname_rule(release, chart, name) -> None:
    assert metricstoken.scoped_name(release, chart) == name


def test_a_token_can_carry_another_role(key_pair) -> None:
    private, _ = key_pair
    claims = metricstoken.mint(private, "u", 60, now=0, role="user").split(".")[1]
    assert json.loads(b64url_decode(claims))["role"] == "user"
