"""Invariants every imported fixture must meet: valid schemas, legal names, determinism."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from registry.openapi import OpenAPIImport, load_openapi, tools_from_openapi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openapi"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
EXPECTED_COUNTS = {"github.json": 17, "stripe.yaml": 15, "petstore31.yaml": 17}


def convert(name: str) -> OpenAPIImport:
    return tools_from_openapi(load_openapi((FIXTURES / name).read_bytes(), name), name)


imported = functools.cache(convert)


def refs_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in refs_in(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs_in(item)]
    return []


@pytest.fixture(params=sorted(EXPECTED_COUNTS))
def fixture_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_fixture_has_expected_tool_count(fixture_name: str) -> None:
    assert len(imported(fixture_name).tools) == EXPECTED_COUNTS[fixture_name]


def test_every_schema_is_valid_json_schema_2020_12(fixture_name: str) -> None:
    for tool in imported(fixture_name).tools:
        wire = tool.wire()
        Draft202012Validator.check_schema(wire["inputSchema"])
        assert wire["inputSchema"]["type"] == "object"
        assert wire["inputSchema"]["additionalProperties"] is False
        if "outputSchema" in wire:
            Draft202012Validator.check_schema(wire["outputSchema"])
            assert wire["outputSchema"]["type"] == "object"


def test_every_ref_points_into_the_schemas_own_defs(fixture_name: str) -> None:
    for tool in imported(fixture_name).tools:
        for schema in (tool.tool.input_schema, tool.tool.output_schema or {}):
            defs = schema.get("$defs", {})
            for ref in refs_in(schema):
                assert ref.startswith("#/$defs/"), (tool.name, ref)
                assert ref.removeprefix("#/$defs/") in defs, (tool.name, ref)
            reached = {ref.removeprefix("#/$defs/") for ref in refs_in(schema)}
            assert set(defs) <= reached, f"{tool.name} carries $defs it never reaches"


def test_every_tool_name_is_legal_and_unique(fixture_name: str) -> None:
    names = [tool.name for tool in imported(fixture_name).tools]
    assert all(NAME.match(name) for name in names)
    assert len(set(names)) == len(names)


def test_bindings_are_json_and_name_input_properties(fixture_name: str) -> None:
    for tool in imported(fixture_name).tools:
        binding = tool.binding
        assert binding is not None
        assert json.loads(json.dumps(binding)) == binding
        properties = tool.tool.input_schema["properties"]
        bound = [p["property"] for p in binding["parameters"]]
        if binding["body"] is not None:
            bound.append(binding["body"]["property"])
        assert sorted(bound) == sorted(properties)
        assert binding["method"] in {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"}
        assert binding["path"].startswith("/")


def test_import_is_deterministic(fixture_name: str) -> None:
    first, second = convert(fixture_name), convert(fixture_name)
    assert [t.model_dump(mode="json") for t in first.tools] == [
        t.model_dump(mode="json") for t in second.tools
    ]
    assert json.dumps([t.wire() for t in first.tools]) == json.dumps(
        [t.wire() for t in second.tools]
    )


def test_wrapped_results_match_the_output_schema(fixture_name: str) -> None:
    for tool in imported(fixture_name).tools:
        assert tool.binding is not None
        output = tool.tool.output_schema
        if tool.binding["wrapResult"]:
            assert output is not None
            assert output["required"] == ["result"]
            assert list(output["properties"]) == ["result"]
