"""Each chart's values.schema.json, generated from one source per chart plus shared fragments.

Sources live in ``helm/schema/``: ``shared.yaml`` holds the types every chart means the same way
(quantities, images, resources, security contexts, probe timings), ``<chart>.yaml`` the chart's own
schema. A source uses two forms beyond JSON Schema draft-07:

- ``$ref: "#/definitions/<name>"`` to a shared type: the type is copied into the chart's
  ``definitions`` (a chart may not define a type of the same name itself);
- ``$extends: <name>`` next to ``properties``/``required``/...: the shared type's keys, with this
  node's merged on top (properties and required lists are added up, other keys replaced). This is
  how a chart narrows a shared type, which draft-07's ``allOf`` cannot do for objects that refuse
  unknown keys.

``helm-mgmt schema`` writes the generated files; ``helm-mgmt schema --check`` (and a unit test)
fails when a committed file differs from what its source generates.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from helm_mgmt.paths import CHARTS_DIR, REPO_ROOT

SOURCES_DIR = REPO_ROOT / "helm" / "schema"
SHARED = SOURCES_DIR / "shared.yaml"
REF_PREFIX = "#/definitions/"


class SchemaSourceError(ValueError):
    pass


def source_charts() -> list[str]:
    return sorted(p.stem for p in SOURCES_DIR.glob("*.yaml") if p != SHARED)


def target(chart: str) -> Path:
    return CHARTS_DIR / chart / "values.schema.json"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise SchemaSourceError(f"{path.relative_to(REPO_ROOT)}: a schema source must be a mapping")
    return data


def shared_types() -> dict[str, Any]:
    return _load(SHARED).get("definitions", {})


class _Builder:
    def __init__(self, chart: str, shared: dict[str, Any], local: dict[str, Any]) -> None:
        self.where = f"helm/schema/{chart}.yaml"
        self.shared = shared
        self.local = local
        self.used: dict[str, Any] = {}

    def expand(self, node: Any, path: str) -> Any:
        if isinstance(node, list):
            return [self.expand(item, f"{path}/{i}") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if "$extends" in node:
            name = node["$extends"]
            if name not in self.shared:
                raise SchemaSourceError(
                    f"{self.where}{path}: $extends names '{name}', which shared.yaml does not define"
                )
            rest = {k: v for k, v in node.items() if k != "$extends"}
            return self.expand(_merge(copy.deepcopy(self.shared[name]), rest), path)
        if "$ref" in node:
            self._note_ref(node["$ref"], path)
        return {key: self.expand(value, f"{path}/{key}") for key, value in node.items()}

    def _note_ref(self, ref: str, path: str) -> None:
        if not isinstance(ref, str) or not ref.startswith(REF_PREFIX):
            raise SchemaSourceError(f"{self.where}{path}: $ref '{ref}' must point into {REF_PREFIX}")
        name = ref[len(REF_PREFIX) :]
        if name in self.local or name in self.used:
            return
        if name not in self.shared:
            raise SchemaSourceError(f"{self.where}{path}: $ref '{ref}' is defined neither here nor in shared.yaml")
        self.used[name] = None
        self.used[name] = self.expand(self.shared[name], f"(shared.yaml){REF_PREFIX}{name}")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if key == "required" and isinstance(base.get(key), list):
            base[key] = base[key] + [item for item in value if item not in base[key]]
        elif key == "properties" and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def generate(chart: str) -> dict[str, Any]:
    source = _load(SOURCES_DIR / f"{chart}.yaml")
    shared = shared_types()
    local = source.pop("definitions", {})
    clash = sorted(set(local) & set(shared))
    if clash:
        raise SchemaSourceError(
            f"helm/schema/{chart}.yaml defines {', '.join(clash)}, which shared.yaml defines too: "
            "use the shared type (or $extends it) instead"
        )
    builder = _Builder(chart, shared, local)
    body = builder.expand(source, "")
    definitions = {name: builder.expand(node, f"/definitions/{name}") for name, node in local.items()}
    definitions.update(builder.used)
    head = {key: body.pop(key) for key in ("$schema", "title") if key in body}
    out = {**head, **body}
    if definitions:
        out["definitions"] = dict(sorted(definitions.items()))
    return out


def render(chart: str) -> str:
    return json.dumps(generate(chart), indent=2, ensure_ascii=False) + "\n"


def stale() -> list[str]:
    """Charts whose committed values.schema.json differs from what the source generates."""
    return [
        chart for chart in source_charts() if not target(chart).exists() or target(chart).read_text() != render(chart)
    ]


def write_all() -> list[Path]:
    changed = []
    for chart in source_charts():
        text = render(chart)
        path = target(chart)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
