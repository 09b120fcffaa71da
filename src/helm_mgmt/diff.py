"""`helm-mgmt diff`: what an upgrade would change, object by object, against the live release,
without a Helm plugin. The new manifest comes from a server-side dry run of the upgrade (so the
charts' lookups see the cluster), the live one from `helm get manifest`; Secret values are shown
only as digests."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

from helm_mgmt.helm import Helm, parse_manifests
from helm_mgmt.release import ReleaseSpec, dry_run_flag, preflight


@dataclass(frozen=True)
class Change:
    object: str
    change: str  # added, removed, changed
    diff: str


def _key(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata", {})
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')} {namespace}{meta.get('name')}"


def _masked(doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("kind") != "Secret":
        return doc
    out = dict(doc)
    for field in ("data", "stringData"):
        if isinstance(doc.get(field), dict):
            out[field] = {
                k: f"<sha256 {hashlib.sha256(str(v).encode()).hexdigest()[:12]}>" for k, v in doc[field].items()
            }
    return out


def _objects(text: str) -> dict[str, str]:
    return {
        _key(doc): yaml.safe_dump(_masked(doc), sort_keys=True, default_flow_style=False)
        for doc in parse_manifests(text)
    }


def compare(live: str, new: str) -> list[Change]:
    """Per object (kind, namespace, name): added, removed, or changed with a unified diff."""
    before, after = _objects(live), _objects(new)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, cur = before.get(key, ""), after.get(key, "")
        if old == cur:
            continue
        change = "added" if not old else "removed" if not cur else "changed"
        lines = difflib.unified_diff(
            old.splitlines(keepends=True), cur.splitlines(keepends=True), f"live {key}", f"upgrade {key}", n=3
        )
        changes.append(Change(key, change, "".join(lines)))
    return changes


def upgrade_diff(helm: Helm, spec: ReleaseSpec) -> list[Change]:
    """What `helm-mgmt upgrade` with these values would change in the live release."""
    preflight(helm, spec)
    ns = ["--namespace", spec.namespace]
    live = helm.run(["get", "manifest", spec.release, *ns]).stdout
    live += "\n---\n" + helm.run(["get", "hooks", spec.release, *ns]).stdout
    args = ["upgrade", spec.release, str(spec.chart), *ns, *spec.value_args(), dry_run_flag(helm), "-o", "json"]
    planned = json.loads(helm.run(args).stdout)
    new = planned.get("manifest", "") + "".join(f"\n---\n{h.get('manifest', '')}" for h in planned.get("hooks") or [])
    return compare(live, new)
