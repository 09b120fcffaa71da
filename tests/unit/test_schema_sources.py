"""The values schemas are generated from helm/schema/: the committed files match their sources,
shared types are not redefined per chart, and the generator's two extensions behave as documented."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from helm_mgmt import schemagen
from helm_mgmt.charts import application_charts

QUANTITY_PATTERN = re.compile(r"Ki\|Mi|\(\[0-9\]\+m")


def test_every_committed_schema_matches_its_source() -> None:
    assert schemagen.stale() == [], "run `./helm/helm-mgmt.sh schema` and commit the result"


def test_every_chart_with_values_has_a_source() -> None:
    assert {chart.name for chart in application_charts()} <= set(schemagen.source_charts())


@pytest.mark.parametrize("chart", schemagen.source_charts())
def test_quantities_come_from_the_shared_types_only(chart: str) -> None:
    """CPU, memory and storage patterns drifted apart when each chart spelled them out."""
    text = (schemagen.SOURCES_DIR / f"{chart}.yaml").read_text()
    own = [line.strip() for line in text.splitlines() if "pattern" in line and QUANTITY_PATTERN.search(line)]
    assert not own, f"helm/schema/{chart}.yaml spells out a quantity; use $ref: '#/definitions/memory' etc.: {own}"


def test_every_resources_block_is_the_shared_one() -> None:
    shared = schemagen.shared_types()["resources"]
    for chart in schemagen.source_charts():
        schema = schemagen.generate(chart)
        for path, node in _walk(schema):
            shared_copy = path == "/definitions/resources"
            if path.endswith("/resources") and not shared_copy and isinstance(node, dict) and "$ref" not in node:
                assert "requests" not in node.get("properties", {}), f"{chart}{path} defines its own resources"
        if "resources" in schema.get("definitions", {}):
            assert schema["definitions"]["resources"] == schemagen._Builder(chart, schemagen.shared_types(), {}).expand(
                shared, ""
            )


def _walk(node, path=""):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


@pytest.fixture
def sources(tmp_path, monkeypatch):
    monkeypatch.setattr(schemagen, "SOURCES_DIR", tmp_path)
    monkeypatch.setattr(schemagen, "SHARED", tmp_path / "shared.yaml")
    shared = {
        "definitions": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "probe": {
                "type": "object",
                "additionalProperties": False,
                "required": ["periodSeconds"],
                "properties": {"periodSeconds": {"type": "integer"}, "port": {"$ref": "#/definitions/port"}},
            },
            "unused": {"type": "string"},
        }
    }
    (tmp_path / "shared.yaml").write_text(yaml.safe_dump(shared))

    def write(chart: str, body: dict) -> str:
        (tmp_path / f"{chart}.yaml").write_text(yaml.safe_dump(body))
        return chart

    return write


def test_extends_adds_properties_and_required_and_copies_what_the_base_refers_to(sources) -> None:
    chart = sources(
        "demo",
        {
            "type": "object",
            "properties": {
                "liveness": {
                    "$extends": "probe",
                    "required": ["enabled"],
                    "properties": {"enabled": {"type": "boolean"}},
                }
            },
        },
    )
    out = schemagen.generate(chart)
    probe = out["properties"]["liveness"]
    assert probe["required"] == ["periodSeconds", "enabled"]
    assert set(probe["properties"]) == {"periodSeconds", "port", "enabled"}
    assert probe["additionalProperties"] is False
    assert out["definitions"] == {"port": {"type": "integer", "minimum": 1, "maximum": 65535}}
    assert json.loads(schemagen.render(chart)) == out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"properties": {"a": {"$extends": "nope"}}}, "$extends names 'nope'"),
        ({"properties": {"a": {"$ref": "#/definitions/nope"}}}, "is defined neither here nor in shared.yaml"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "must point into #/definitions/"),
        ({"definitions": {"port": {"type": "string"}}}, "defines port, which shared.yaml defines too"),
    ],
)
def test_source_mistakes_are_named(sources, body, message) -> None:
    chart = sources("demo", {"type": "object", **body})
    with pytest.raises(schemagen.SchemaSourceError, match=re.escape(message)):
        schemagen.generate(chart)
