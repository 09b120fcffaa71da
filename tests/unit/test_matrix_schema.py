"""Every application chart's values.schema.json: draft-07 without remote references, unknown keys
refused in every fixed-shape object, `global` open to the umbrella's values, and the chart's own
values (values.yaml, and each examples/values-*.yaml as Helm applies it on top) accepted."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from helm_mgmt.charts import Chart, application_charts

CHARTS = application_charts()
DRAFT_07 = "http://json-schema.org/draft-07/schema#"

# Objects left open on purpose (JSON pointer-like path in the schema -> why).
DELIBERATELY_OPEN: dict[str, dict[str, str]] = {
    "clipper": {
        "/properties/global": "shared with every subchart, each of which reads its own keys from it",
        "/properties/backend": "validated by the backend chart's own schema",
        "/properties/frontend": "validated by the frontend chart's own schema",
        "/properties/postgres": "validated by the postgres chart's own schema",
        "/properties/redis": "validated by the redis chart's own schema",
        "/properties/monitoring": "validated by the monitoring chart's own schema",
    },
    "monitoring": {
        "/properties/kube-prometheus-stack": "passed to the vendored kube-prometheus-stack chart (documented there)",
        "/properties/loki": "validated by the vendored loki chart's own schema",
    },
}


def schema_of(chart: Chart) -> dict[str, Any]:
    return json.loads((chart.path / "values.schema.json").read_text())


def load_values(path: Path) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text())
    assert isinstance(values, dict), f"{path} is not a mapping of values"
    return values


def coalesce(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base` as Helm merges value files: maps merge, null removes a key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def schema_errors(schema: dict[str, Any], values: dict[str, Any]) -> list[str]:
    errors = jsonschema.Draft7Validator(schema).iter_errors(values)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def value_files(chart: Chart) -> list[Path]:
    return [chart.path / "values.yaml", *sorted((chart.path / "examples").glob("values-*.yaml"))]


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_schema_is_draft7_with_local_refs_only(chart: Chart) -> None:
    schema = schema_of(chart)
    assert schema["$schema"] == DRAFT_07
    jsonschema.Draft7Validator.check_schema(schema)
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema))
    remote = [ref for ref in refs if not ref.startswith("#/definitions/")]
    assert not remote, f"only local #/definitions/ references, found {remote}"
    dangling = [ref for ref in refs if ref.removeprefix("#/definitions/") not in schema.get("definitions", {})]
    assert not dangling, f"references to missing definitions: {dangling}"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_schema_closes_every_fixed_shape_object(chart: Chart) -> None:
    """An object that lists `properties` must say `additionalProperties: false`, so that a misspelt
    key fails the install instead of being ignored. Free-form maps (no `properties`) stay open."""
    open_objects: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                open_objects.add(path or "/")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(schema_of(chart), "")
    allowed = set(DELIBERATELY_OPEN.get(chart.name, {}))
    assert not open_objects - allowed, "objects with properties but without additionalProperties: false"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_schema_accepts_global_as_an_object(chart: Chart) -> None:
    """The umbrella passes `global` to every subchart: any keys in it must be accepted."""
    schema = schema_of(chart)
    global_schema = schema["properties"]["global"]
    assert global_schema["type"] == "object"
    if chart.name == "clipper":
        # The umbrella defines `global`: its schema is closed so that typos fail (global.storageclass).
        return
    assert global_schema.get("additionalProperties", True) is not False
    values = coalesce(load_values(chart.path / "values.yaml"), {"global": {"fromAnotherChart": {"any": ["thing"]}}})
    assert not schema_errors(schema, values)
    assert schema_errors(schema, {**values, "global": "not an object"}), "global must be an object"


@pytest.mark.parametrize(
    ("chart", "values_file"),
    [pytest.param(c, f, id=f"{c.name}-{f.name}") for c in CHARTS for f in value_files(c)],
)
def test_values_satisfy_the_schema(chart: Chart, values_file: Path) -> None:
    """values.yaml on its own; an example as Helm validates it, on top of values.yaml."""
    defaults = load_values(chart.path / "values.yaml")
    values = load_values(values_file)
    if values_file.name != "values.yaml":
        values = coalesce(defaults, values)
    errors = schema_errors(schema_of(chart), values)
    assert not errors, f"{values_file.relative_to(chart.path)} does not satisfy the schema:\n" + "\n".join(errors)
