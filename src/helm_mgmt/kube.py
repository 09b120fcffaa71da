"""kubectl access for helm-mgmt: which binary, which kubeconfig, and small queries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from helm_mgmt.paths import cache_root


def kubectl_binary() -> str | None:
    """The kubectl built for the local cluster if present, else the one on PATH."""
    built = sorted((cache_root() / "bin").glob("kubernetes-*/kubectl"))
    if built:
        return str(built[-1])
    return shutil.which("kubectl")


def kubectl(
    args: list[str], check: bool = True, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    binary = kubectl_binary()
    if binary is None:
        raise FileNotFoundError("kubectl not found: run `helm-mgmt cluster up` (it builds one) or install kubectl")
    proc = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def kubectl_json(args: list[str], timeout: float = 60) -> Any:
    return json.loads(kubectl([*args, "-o", "json"], timeout=timeout).stdout)


def cluster_reachable(timeout: float = 10) -> bool:
    if kubectl_binary() is None:
        return False
    if not os.environ.get("KUBECONFIG") and not (Path.home() / ".kube" / "config").exists():
        return False
    try:
        return kubectl(["get", "--raw", "/readyz"], check=False, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False
