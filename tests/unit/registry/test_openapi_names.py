"""Tool names: sanitised to MCP's alphabet, at most 128 characters, unique per document."""

from __future__ import annotations

import re
from typing import Any

from registry.openapi import tools_from_openapi
from registry.openapi.names import sanitise, shorten, tool_name, unique

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def test_sanitise_replaces_and_collapses() -> None:
    assert sanitise("repos/get-content") == "repos_get-content"
    assert sanitise("get /pets/{petId}") == "get_pets_petId"
    assert sanitise("list  things!!now") == "list_things_now"
    assert sanitise("v1.users.list") == "v1.users.list"
    assert sanitise("ユーザー") == ""


def test_tool_name_falls_back_to_method_and_path() -> None:
    assert tool_name(None, "get", "/pets/{petId}") == "get_pets_petId"
    assert tool_name("", "delete", "/stores/{storeId}/pets/{petId}") == (
        "delete_stores_storeId_pets_petId"
    )
    assert tool_name("ペット", "post", "/pets") == "post_pets"
    assert tool_name("createPet", "post", "/pets") == "createPet"


def test_long_names_are_cut_with_a_stable_hash() -> None:
    long = "a" * 100 + "_" + "b" * 100
    other = "a" * 100 + "_" + "c" * 100
    cut = shorten(long)
    assert len(cut) == 128
    assert NAME.match(cut)
    assert cut == shorten(long)
    assert cut[:119] == long[:119]
    assert cut != shorten(other)
    assert shorten("short") == "short"


def test_unique_appends_counters() -> None:
    taken: set[str] = set()
    assert [unique(n, taken) for n in ("a", "a", "a", "a_2")] == ["a", "a_2", "a_3", "a_2_2"]
    long = "x" * 128
    taken = {long}
    second = unique(long, taken)
    assert len(second) == 128
    assert second.endswith("_2")


def operation(operation_id: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"responses": {"204": {"description": "done"}}}
    if operation_id is not None:
        spec["operationId"] = operation_id
    return spec


def test_names_in_a_document_are_unique_and_deterministic() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Names", "version": "1"},
        "paths": {
            "/a": {"get": operation("list items"), "post": operation("list/items")},
            "/b": {"get": operation("list_items")},
            "/pets/{petId}": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": operation(None),
                "delete": operation("x" * 300),
                "patch": operation("x" * 300),
            },
            "/pets_/{petId}": {
                "parameters": [{"$ref": "#/components/parameters/petId"}],
                "get": operation(None),
            },
        },
        "components": {
            "parameters": {"petId": {"name": "petId", "in": "path", "required": True, "schema": {}}}
        },
    }
    names = [t.name for t in tools_from_openapi(document, "names").tools]
    assert names[:3] == ["list_items", "list_items_2", "list_items_3"]
    assert names[3] == "get_pets_petId"
    assert len(names[4]) == 128
    assert names[5] == names[4][:126] + "_2"
    assert names[6] == "get_pets_petId_2"
    assert all(NAME.match(n) for n in names)
    assert names == [t.name for t in tools_from_openapi(document, "names").tools]
