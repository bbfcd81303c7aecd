"""OpenAPI Schema Objects to JSON Schema 2020-12."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from registry.errors import Problem
from registry.openapi.refs import Resolver
from registry.openapi.schemas import SchemaConverter


def builder(
    schemas: dict[str, Any] | None = None, *, openapi30: bool = True
) -> tuple[SchemaConverter, list[Problem]]:
    problems: list[Problem] = []
    document = {"components": {"schemas": schemas or {}}}
    return SchemaConverter(Resolver(document, problems), openapi30, problems), problems


def convert(schema: Any, *, openapi30: bool = True, **components: dict[str, Any]) -> Any:
    build, problems = builder(components, openapi30=openapi30)
    result = build.standalone(build.convert(schema, ("x",)))
    assert problems == []
    Draft202012Validator.check_schema(result)
    return result


def test_nullable_adds_null_to_type_and_enum() -> None:
    assert convert({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert convert({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert convert({"type": "string", "nullable": False}) == {"type": "string"}


def test_nullable_without_type_becomes_any_of_null() -> None:
    result = convert(
        {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True, "description": "d"},
        A={"type": "object"},
    )
    assert result == {
        "description": "d",
        "anyOf": [{"allOf": [{"$ref": "#/$defs/A"}]}, {"type": "null"}],
        "$defs": {"A": {"type": "object"}},
    }
    assert convert({"nullable": True, "description": "anything"}) == {"description": "anything"}


def test_nullable_is_not_a_keyword_in_3_1() -> None:
    assert convert({"type": "string", "nullable": True}, openapi30=False) == {"type": "string"}


def test_boolean_exclusive_bounds_become_numeric() -> None:
    assert convert({"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10}) == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 10,
    }
    assert convert({"type": "number", "maximum": 5, "exclusiveMaximum": False}) == {
        "type": "number",
        "maximum": 5,
    }
    assert convert({"type": "number", "exclusiveMaximum": 5}, openapi30=False) == {
        "type": "number",
        "exclusiveMaximum": 5,
    }


def test_openapi_only_keywords_are_dropped_and_example_becomes_examples() -> None:
    result = convert(
        {
            "type": "object",
            "discriminator": {"propertyName": "kind"},
            "xml": {"name": "pet"},
            "externalDocs": {"url": "https://example.com"},
            "x-internal": True,
            "example": {"kind": "cat"},
            "readOnly": True,
            "deprecated": True,
        }
    )
    assert result == {
        "type": "object",
        "examples": [{"kind": "cat"}],
        "readOnly": True,
        "deprecated": True,
    }


def test_keywords_as_property_names_and_data_are_left_alone() -> None:
    schema = {
        "type": "object",
        "properties": {
            "nullable": {"type": "boolean"},
            "$ref": {"type": "string"},
            "x-rate": {"type": "integer"},
        },
        "default": {"$ref": "not a reference", "example": 1},
        "enum": [{"nullable": True}],
    }
    assert convert(schema) == schema


def test_nested_schemas_are_converted_everywhere() -> None:
    nullable = {"type": "string", "nullable": True}
    result = convert(
        {
            "type": "object",
            "properties": {"a": nullable},
            "additionalProperties": nullable,
            "items": nullable,
            "allOf": [nullable],
            "anyOf": [nullable],
            "oneOf": [nullable],
            "not": nullable,
        }
    )
    converted = {"type": ["string", "null"]}
    assert result["properties"]["a"] == converted
    for key in ("additionalProperties", "items", "not"):
        assert result[key] == converted
    for key in ("allOf", "anyOf", "oneOf"):
        assert result[key] == [converted]


def test_component_refs_become_defs_only_when_reached() -> None:
    result = convert(
        {"$ref": "#/components/schemas/Pet"},
        Pet={"type": "object", "properties": {"tag": {"$ref": "#/components/schemas/Tag"}}},
        Tag={"type": "string"},
        Unused={"type": "integer"},
    )
    assert result == {
        "$ref": "#/$defs/Pet",
        "$defs": {
            "Pet": {"type": "object", "properties": {"tag": {"$ref": "#/$defs/Tag"}}},
            "Tag": {"type": "string"},
        },
    }


def test_recursive_and_mutually_recursive_schemas_terminate() -> None:
    result = convert(
        {"$ref": "#/components/schemas/Node"},
        Node={
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "owner": {"$ref": "#/components/schemas/Owner"},
            },
        },
        Owner={"type": "object", "properties": {"root": {"$ref": "#/components/schemas/Node"}}},
    )
    assert list(result["$defs"]) == ["Node", "Owner"]
    assert result["$defs"]["Owner"]["properties"]["root"] == {"$ref": "#/$defs/Node"}
    Draft202012Validator(result).validate({"children": [{"children": [], "owner": {"root": {}}}]})


def test_refs_to_schemas_inside_schemas_get_their_own_defs() -> None:
    result = convert(
        {"$ref": "#/components/schemas/Pet/properties/name"},
        Pet={"type": "object", "properties": {"name": {"type": "string"}}},
    )
    assert result == {
        "$ref": "#/$defs/components_schemas_Pet_properties_name",
        "$defs": {"components_schemas_Pet_properties_name": {"type": "string"}},
    }


def test_component_names_outside_the_safe_alphabet_are_sanitised() -> None:
    build, problems = builder({"Pet Store": {"type": "null"}})
    result = build.standalone(build.convert({"$ref": "#/components/schemas/Pet%20Store"}, ("x",)))
    assert problems == []
    assert result == {"$ref": "#/$defs/Pet_Store", "$defs": {"Pet_Store": {"type": "null"}}}


def test_3_1_schemas_keep_json_schema_keywords() -> None:
    schema = {
        "type": ["string", "null"],
        "const": "x",
        "prefixItems": [{"type": "integer"}],
        "examples": ["x"],
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/s",
        "xml": {"name": "s"},
    }
    assert convert(schema, openapi30=False) == {
        "type": ["string", "null"],
        "const": "x",
        "prefixItems": [{"type": "integer"}],
        "examples": ["x"],
    }


def test_boolean_schemas_pass_through() -> None:
    assert convert({"type": "object", "additionalProperties": False}) == {
        "type": "object",
        "additionalProperties": False,
    }
    assert convert(True, openapi30=False) is True


def test_bad_schemas_and_refs_are_problems_at_their_pointer() -> None:
    build, problems = builder({})
    build.convert(
        {
            "properties": {"a": "string", "b": {"$ref": "#/components/schemas/Nope"}},
            "allOf": {"type": "string"},
            "items": {"$ref": "common.yaml#/Pet"},
        },
        ("components", "schemas", "Thing"),
    )
    assert problems == [
        Problem(
            "/components/schemas/Thing/properties/a", "expected a Schema Object (a JSON object)"
        ),
        Problem(
            "/components/schemas/Thing/properties/b/$ref",
            "`#/components/schemas/Nope` points to nothing in this document; check the name",
        ),
        Problem("/components/schemas/Thing/allOf", "expected an array of schemas"),
        Problem(
            "/components/schemas/Thing/items/$ref",
            "external reference `common.yaml#/Pet` is not supported; bundle the document into "
            "one file first (for example with `redocly bundle`)",
        ),
    ]
