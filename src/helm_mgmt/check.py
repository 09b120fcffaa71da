"""`helm-mgmt check`: every prerequisite with its version, and what a reachable cluster offers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from helm_mgmt.gobuild import bin_dir
from helm_mgmt.kube import cluster_reachable, kubectl, kubectl_binary, kubectl_json
from helm_mgmt.toolchain import HELM_DOCS_VERSION, HELM_RELEASES


@dataclass
class Item:
    name: str
    ok: bool
    version: str
    detail: str


def _version_of(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None and "/" not in cmd[0]:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0].strip() if proc.returncode == 0 and out else None


def tool_items() -> list[Item]:
    items = [Item("python", sys.version_info >= (3, 11), sys.version.split()[0], "needs >= 3.11")]
    go = _version_of(["go", "version"])
    items.append(Item("go", go is not None, go or "-", "builds helm and the local cluster from Go modules"))
    for release in HELM_RELEASES.values():
        exe = bin_dir("helm", release.version) / "helm"
        found = _version_of([str(exe), "version", "--short"]) if exe.is_file() else None
        items.append(
            Item(
                f"helm ({release.key})",
                found is not None,
                found or "-",
                "pinned; built on first use from the Go module proxy",
            )
        )
    docs = bin_dir("helm-docs", HELM_DOCS_VERSION) / "helm-docs"
    # helm-docs has no --version flag; the cache path carries the pinned version.
    docs_ok = docs.is_file() and _version_of([str(docs), "--help"]) is not None
    items.append(Item("helm-docs", docs_ok, HELM_DOCS_VERSION if docs_ok else "-", "pinned; built on first use"))
    kc = kubectl_binary()
    kc_v = _version_of([kc, "version", "--client"]) if kc else None
    items.append(Item("kubectl", kc_v is not None, kc_v or "-", "from the local cluster build or PATH"))
    for name, cmd in (
        ("checkov", ["checkov", "--version"]),
        ("kubernetes-validate", ["kubernetes-validate", "--version"]),
    ):
        v = _version_of(cmd)
        items.append(Item(name, v is not None, v or "-", "pip install -e .[test]"))
    return items


def cluster_facts() -> dict[str, Any]:
    if not cluster_reachable():
        return {"reachable": False}
    version = kubectl_json(["version"]).get("serverVersion", {}).get("gitVersion", "?")
    classes = kubectl_json(["get", "storageclass"]).get("items", [])
    default = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    crds = kubectl(["get", "crd", "-o", "name"], check=False).stdout
    ingress_classes = [c["metadata"]["name"] for c in kubectl_json(["get", "ingressclass"]).get("items", [])]
    return {
        "reachable": True,
        "serverVersion": version,
        "defaultStorageClass": default[0] if default else None,
        "certManager": "certificates.cert-manager.io" in crds,
        "externalSecrets": "externalsecrets.external-secrets.io" in crds,
        "gatewayAPI": "httproutes.gateway.networking.k8s.io" in crds,
        "ingressClasses": ingress_classes,
    }


def run_check() -> dict[str, Any]:
    items = tool_items()
    return {
        "tools": [asdict(i) for i in items],
        "missing": [i.name for i in items if not i.ok],
        "cluster": cluster_facts(),
    }


def render_human(result: dict[str, Any]) -> str:
    from helm_mgmt.output import table

    rows = [["ok" if t["ok"] else "MISSING", t["name"], t["version"], t["detail"]] for t in result["tools"]]
    lines = [table(rows, ["", "tool", "version", "note"]), ""]
    c = result["cluster"]
    if not c["reachable"]:
        lines.append(
            "cluster: not reachable (no kubeconfig, or the API server is down);"
            " `helm-mgmt cluster up` starts a local one"
        )
    else:
        lines += [
            f"cluster: Kubernetes {c['serverVersion']}",
            f"  default StorageClass: {c['defaultStorageClass'] or 'NONE (PVCs will stay Pending)'}",
            f"  cert-manager: {'present' if c['certManager'] else 'absent (TLS ingress needs it)'}",
            f"  External Secrets Operator: {'present' if c['externalSecrets'] else 'absent'}",
            f"  ingress classes: {', '.join(c['ingressClasses']) or 'none (no ingress controller)'}",
            f"  Gateway API: {'present' if c['gatewayAPI'] else 'absent'}",
        ]
    if result["missing"]:
        lines.append(f"\nmissing: {', '.join(result['missing'])}")
    return "\n".join(lines)
