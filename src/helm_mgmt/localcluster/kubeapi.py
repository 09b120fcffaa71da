"""Minimal Kubernetes API client (stdlib only) authenticating with one of the cluster's client certificates."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from helm_mgmt.localcluster import components as c
from helm_mgmt.localcluster.pki import pki_dir


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _context(user: str) -> ssl.SSLContext:
    pki = pki_dir()
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / f"{user}.crt"), str(pki / f"{user}.key"))
    return ctx


def request(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    timeout: float = 10,
    user: str = "admin",
    content_type: str = "application/json",
) -> Any:
    """Send one request as ``user`` (a client certificate name) and return the decoded JSON (or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"https://{c.NODE_IP}:{c.APISERVER_PORT}{path}",
        data=data,
        method=method,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=_context(user), timeout=timeout) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as err:
        raise ApiError(err.code, err.read().decode(errors="replace")) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def get_or_empty(path: str) -> dict[str, Any]:
    """The object at ``path``, or an empty dict while the API refuses it (not created yet, say)."""
    try:
        return request("GET", path)
    except ApiError:
        return {}


def reachable(path: str) -> bool:
    """True when ``path`` answers 200 (used for /readyz, /livez)."""
    try:
        request("GET", path, timeout=3)
    except (OSError, ApiError, ssl.SSLError):
        return False
    return True


def create_if_absent(collection: str, body: dict[str, Any], user: str = "admin") -> None:
    try:
        request("POST", collection, body, user=user)
    except ApiError as err:
        if err.status != 409:
            raise


def apply(collection: str, body: dict[str, Any], manager: str = "clipper-kit") -> Any:
    """Server-side apply of ``body`` (JSON is YAML) into ``collection``, taking over its fields."""
    name = body["metadata"]["name"]
    path = f"{collection}/{name}?fieldManager={manager}&force=true"
    return request("PATCH", path, body, timeout=30, content_type="application/apply-patch+yaml")


def condition_true(obj: dict[str, Any], kind: str) -> bool:
    """Whether ``obj`` reports the condition ``kind`` (Ready, Available, Established...) as True."""
    return any(
        cond["type"] == kind and cond["status"] == "True" for cond in obj.get("status", {}).get("conditions", [])
    )


def node_ready() -> bool:
    try:
        node = request("GET", f"/api/v1/nodes/{c.NODE_NAME}", timeout=3)
    except (OSError, ApiError, ssl.SSLError):
        return False
    return condition_true(node, "Ready")
