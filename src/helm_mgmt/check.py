"""`helm-mgmt check`: every prerequisite with its version, what a reachable cluster offers, and what
in the charts is outdated (offline: nothing is fetched or built for it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from helm_mgmt.gobuild import bin_dir
from helm_mgmt.helm import Helm
from helm_mgmt.kube import cluster_reachable, kubectl, kubectl_binary, kubectl_json
from helm_mgmt.paths import CHARTS_DIR, REPO_ROOT
from helm_mgmt.toolchain import DEFAULT_HELM, HELM_DOCS_VERSION, HELM_RELEASES

# Where newer packaged community charts appear (this workplace's shared folder beside the checkout).
VENDOR_CHARTS_ENV = "CLIPPER_VENDOR_CHARTS"
_ARCHIVE = re.compile(r"(?P<name>.+?)-(?P<version>\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tgz")


@dataclass
class Item:
    name: str
    ok: bool
    version: str
    detail: str


def _version_of(cmd: list[str]) -> str | None:
    # The Python tools (checkov, kubernetes-validate) are installed beside this interpreter: found
    # there even when its virtualenv is not on PATH, as under ./helm/helm-mgmt.sh.
    if "/" not in cmd[0]:
        found = shutil.which(
            cmd[0], path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        )
        if found is None:
            return None
        cmd = [found, *cmd[1:]]
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


def vendor_dir() -> Path:
    return Path(os.environ.get(VENDOR_CHARTS_ENV) or REPO_ROOT.parent / "shared" / "vendor-charts")


def _newer_vendored(charts: dict, vendor: Path) -> list[dict[str, str]]:
    from helm_mgmt.releases import semver_key

    offered: dict[str, list[str]] = {}
    for archive in sorted(vendor.glob("*.tgz")):
        if found := _ARCHIVE.fullmatch(archive.name):
            offered.setdefault(found["name"], []).append(found["version"])
    items = []
    for chart in charts.values():
        for dep in chart.meta.get("dependencies", []):
            if dep.get("repository", "").startswith("file://"):
                continue
            newer = [v for v in offered.get(dep["name"], []) if semver_key(v) > semver_key(str(dep["version"]))]
            if newer:
                newest = max(newer, key=semver_key)
                items.append(
                    {
                        "kind": "vendored chart",
                        "item": f"{chart.name}/charts/{dep['name']}-{dep['version']}.tgz",
                        "detail": f"{newest} is in {vendor}; vendor it and update {chart.name}/Chart.yaml",
                    }
                )
    return items


def outdated(
    charts_root: Path = CHARTS_DIR,
    record_path: Path | None = None,
    vendor: Path | None = None,
    helm: Helm | None = None,
) -> dict[str, list]:
    """Stale dependency archives, charts changed without a recorded version bump, and vendored charts
    with a newer archive in the vendor folder. Offline: a Helm that is not built yet is not built,
    the archives are then reported as not checked."""
    from helm_mgmt.charts import load_charts, stale_dependencies
    from helm_mgmt.releases import chart_states, load_record

    charts = load_charts(charts_root)
    items: list[dict[str, str]] = []
    not_checked: list[str] = []
    helm = helm or Helm(DEFAULT_HELM)
    if (bin_dir("helm", helm.version) / "helm").is_file():
        for stale in stale_dependencies(helm, charts):
            items.append({"kind": "dependency archive", "item": stale, "detail": "run `helm-mgmt deps` and commit"})
    else:
        not_checked.append(f"dependency archives: Helm {helm.version} is not built yet (`helm-mgmt check --install`)")
    record = load_record(record_path or charts_root.parent / "released.json")
    for state in chart_states(charts, record):
        if problem := state.problem():
            items.append({"kind": "release", "item": state.name, "detail": problem})
    vendor = vendor or vendor_dir()
    if vendor.is_dir():
        items += _newer_vendored(charts, vendor)
    else:
        not_checked.append(f"vendored charts: no folder {vendor} (set {VENDOR_CHARTS_ENV})")
    return {"items": items, "not_checked": not_checked}


def run_check() -> dict[str, Any]:
    items = tool_items()
    return {
        "tools": [asdict(i) for i in items],
        "missing": [i.name for i in items if not i.ok],
        "cluster": cluster_facts(),
        "outdated": outdated(),
    }


def render_outdated(result: dict[str, list]) -> list[str]:
    lines = ["outdated:" if result["items"] else "outdated: nothing"]
    for o in result["items"]:
        # A release problem names its chart already.
        lines.append(
            f"  {o['kind']}: {o['detail']}" if o["item"] in o["detail"] else f"  {o['kind']} {o['item']}: {o['detail']}"
        )
    lines += [f"  not checked: {why}" for why in result["not_checked"]]
    return lines


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
    lines += ["", *render_outdated(result["outdated"])]
    if result["missing"]:
        lines.append(f"\nmissing: {', '.join(result['missing'])}")
    return "\n".join(lines)
