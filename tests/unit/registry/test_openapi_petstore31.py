"""The Petstore 3.1 subset: JSON Schema types, per-operation scopes, 2XX, recursion."""

from __future__ import annotations

import functools
from pathlib import Path

from jsonschema import Draft202012Validator

from registry.openapi import OpenAPIImport, read_openapi, tools_from_openapi
from registry.tooldefs import ToolDefinition

FIXTURE = Path(__file__).parents[2] / "fixtures" / "openapi" / "petstore31.yaml"


@functools.cache
def petstore() -> OpenAPIImport:
    return tools_from_openapi(read_openapi(FIXTURE), FIXTURE.name)


def tool(name: str) -> ToolDefinition:
    return next(t for t in petstore().tools if t.name == name)


def test_servers_substitute_variables_and_skip_relative_urls() -> None:
    result = petstore()
    assert result.servers == [
        "https://petstore31.swagger.io/api/v31",
        "https://eu.petstore.example.com/v31",
    ]
    assert result.egress_hosts == ["petstore31.swagger.io", "eu.petstore.example.com"]
    assert result.description is not None
    assert result.description.startswith("This is a sample Pet Store Server")


def test_operations_without_operation_id_get_method_path_names() -> None:
    names = [t.name for t in petstore().tools]
    assert "get_pet_findByTags" in names
    assert "head_pet_petId" in names
    assert "get_categories" in names
    assert "get_store_order_orderId" in names  # from a $ref'd path item
    assert "newPet" not in names  # webhooks are not tools


def test_path_item_parameters_merge_with_operation_ones() -> None:
    get = tool("getPetById")
    assert get.tool.input_schema["properties"]["petId"] == {
        "type": "integer",
        "format": "int64",
        "exclusiveMinimum": 0,
        "description": "ID of pet",
    }
    delete = tool("deletePet")
    assert list(delete.tool.input_schema["properties"]) == ["petId", "api_key"]
    assert delete.tool.input_schema["properties"]["petId"]["description"] == "Pet id to delete"
    assert delete.tool.input_schema["required"] == ["petId"]
    form = tool("updatePetWithForm")
    assert list(form.tool.input_schema["properties"]) == ["petId", "name", "status"]


def test_type_arrays_with_null_pass_through() -> None:
    depth = tool("get_categories").tool.input_schema["properties"]["depth"]
    assert depth["type"] == ["integer", "null"]
    output = tool("getUserByName").tool.output_schema
    assert output is not None
    assert output["properties"]["firstName"]["type"] == ["string", "null"]


def test_2xx_response_gives_wrapped_recursive_output() -> None:
    definition = tool("get_categories")
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is True
    output = definition.tool.output_schema
    assert output is not None
    assert output["properties"]["result"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Category"},
    }
    category = output["$defs"]["Category"]
    assert category["properties"]["children"]["items"] == {"$ref": "#/$defs/Category"}
    assert "xml" not in category
    tree = [{"id": 1, "name": "Dogs", "children": [{"id": 2, "name": "Terriers", "children": []}]}]
    Draft202012Validator(output).validate({"result": tree})


def test_ref_with_sibling_description_and_dropped_keywords() -> None:
    definition = tool("updatePet")
    schema = definition.tool.input_schema
    assert schema["properties"]["body"] == {
        "$ref": "#/$defs/Pet",
        "description": "Update an existent pet in the store",
    }
    pet = schema["$defs"]["Pet"]
    assert "discriminator" not in pet
    assert "xml" not in pet["properties"]["photoUrls"]
    assert "x-swagger-router-model" not in pet
    assert pet["properties"]["category"] == {
        "$ref": "#/$defs/Category",
        "description": "The pet's category (a description next to a $ref, as 3.1 allows)",
    }
    assert list(schema["$defs"]) == ["Pet", "Category", "Tag"]


def test_json_is_preferred_and_referenced_request_body_is_inlined() -> None:
    put = tool("updatePet")
    assert put.binding is not None
    assert put.binding["body"] == {"property": "body", "contentType": "application/json"}
    post = tool("addPet")
    assert post.tool.input_schema["required"] == ["body"]
    assert post.tool.input_schema["properties"]["body"]["description"] == (
        "Pet object that needs to be added to the store"
    )


def test_non_json_body_keeps_its_media_type() -> None:
    upload = tool("uploadFile")
    assert upload.binding is not None
    assert upload.binding["body"] == {"property": "body", "contentType": "application/octet-stream"}
    assert upload.tool.input_schema["required"] == ["petId"]


def test_per_operation_scopes() -> None:
    assert tool("updatePet").scopes == ["read:pets", "write:pets"]
    assert tool("deletePet").scopes == ["admin:pets", "read:pets", "write:pets"]
    assert tool("placeOrder").scopes == ["write:orders"]
    assert tool("get_store_order_orderId").scopes == ["read:orders"]
    assert tool("findPetsByStatus").scopes == ["read:pets"]  # document-level security


def test_api_key_first_gives_no_scopes() -> None:
    definition = tool("getPetById")
    assert definition.scopes == []
    assert definition.binding is not None
    assert definition.binding["security"] == ["api_key"]


def test_empty_security_means_no_auth() -> None:
    for name in ("loginUser", "logoutUser", "get_categories"):
        definition = tool(name)
        assert definition.scopes == []
        assert definition.binding is not None
        assert definition.binding["security"] == []


def test_string_response_is_wrapped_and_default_only_gives_none() -> None:
    login = tool("loginUser")
    assert login.tool.output_schema == {
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "required": ["result"],
    }
    assert tool("logoutUser").tool.output_schema is None


def test_map_response_is_an_object() -> None:
    definition = tool("getInventory")
    assert definition.tool.output_schema == {
        "type": "object",
        "additionalProperties": {"type": "integer", "format": "int32"},
    }
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is False


def test_head_is_read_only_and_deprecated_get_is_noted() -> None:
    head = tool("head_pet_petId")
    assert head.tool.annotations is not None
    assert head.tool.annotations.read_only_hint is True
    assert head.tool.annotations.destructive_hint is False
    assert head.tool.output_schema is None
    by_tags = tool("get_pet_findByTags").tool
    assert by_tags.description is not None
    assert "Deprecated" in by_tags.description
