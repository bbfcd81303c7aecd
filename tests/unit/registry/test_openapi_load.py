"""Reading documents: JSON or YAML, and the problems that stop an import before conversion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InvalidDocumentError, Problem
from registry.openapi import load_openapi, read_openapi, tools_from_openapi

MINIMAL = {
    "openapi": "3.1.0",
    "info": {"title": "Todo", "version": "1"},
    "paths": {"/todos": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


def problems(data: bytes) -> list[Problem]:
    with pytest.raises(InvalidDocumentError) as caught:
        load_openapi(data, "doc")
    assert caught.value.source == "doc"
    return caught.value.problems


def problems_of(document: dict[str, Any]) -> list[Problem]:
    return problems(json.dumps(document).encode())


def test_json_and_yaml_give_the_same_document() -> None:
    yaml_text = b"""
openapi: 3.1.0
info:
  title: Todo
  version: '1'
paths:
  /todos:
    get:
      responses:
        200:
          description: ok
"""
    assert load_openapi(yaml_text, "todo.yaml") == MINIMAL
    assert load_openapi(json.dumps(MINIMAL).encode(), "todo.json") == MINIMAL


def test_byte_order_mark_is_accepted() -> None:
    assert load_openapi(b"\xef\xbb\xbf" + json.dumps(MINIMAL).encode(), "bom.json") == MINIMAL


def test_yaml_syntax_error_names_the_line() -> None:
    found = problems(b"openapi: 3.0.3\ninfo:\n  title: x\n   version: 1\npaths: {}\n")
    assert len(found) == 1
    assert found[0].pointer == ""
    assert "not valid YAML" in found[0].message
    assert "line 4" in found[0].message


def test_json_syntax_error_names_line_and_column() -> None:
    (problem,) = problems(b'{\n  "openapi": "3.0.3",\n  "info": {,}\n}')
    assert problem.message.startswith("not valid JSON: ")
    assert "line 3, column 12" in problem.message


def test_yaml_aliases_and_duplicate_keys_are_refused() -> None:
    (alias,) = problems(b"openapi: 3.0.3\ninfo: &i {title: x, version: '1'}\nx: *i\npaths: {}\n")
    assert "aliases" in alias.message
    (duplicate,) = problems(b"openapi: 3.0.3\nopenapi: 3.1.0\n")
    assert "duplicate key 'openapi'" in duplicate.message
    assert "line 2" in duplicate.message


def test_not_utf8_is_refused() -> None:
    (problem,) = problems(b"openapi: \xff\n")
    assert "not UTF-8" in problem.message


def test_swagger_2_is_refused_with_a_way_forward() -> None:
    (problem,) = problems_of(
        {"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}
    )
    assert problem.pointer == "/swagger"
    assert "Swagger 2.0 is not supported" in problem.message
    assert "OpenAPI 3" in problem.message


@pytest.mark.parametrize("version", ["2.0", "3.2.0", "4"])
def test_unsupported_openapi_versions(version: str) -> None:
    (problem,) = problems_of(MINIMAL | {"openapi": version})
    assert problem.pointer == "/openapi"
    assert "`3.0.x` or `3.1.x`" in problem.message


def test_unquoted_yaml_float_version_is_explained() -> None:
    (problem,) = problems(b"openapi: 3.1\ninfo: {title: x, version: '1'}\npaths: {}\n")
    assert problem.pointer == "/openapi"
    assert "quote it in YAML" in problem.message


def test_missing_fields_are_all_reported() -> None:
    found = problems_of({"info": {"title": ""}})
    assert [p.pointer for p in found] == ["/openapi", "/info/title", "/info/version", "/paths"]
    assert "required field is missing" in found[0].message
    assert "required field is missing" in found[3].message


def test_missing_info_and_non_object_root() -> None:
    (problem,) = problems_of({k: v for k, v in MINIMAL.items() if k != "info"})
    assert problem.pointer == "/info"
    (root,) = problems(b"[1, 2]")
    assert root.pointer == ""
    assert "expected an OpenAPI document" in root.message


def test_non_object_path_item_and_operation() -> None:
    document = MINIMAL | {
        "paths": {
            "/a/b": ["get"],
            "/c": {"get": "list things", "post": {"parameters": {"name": "x"}}},
            "d": {},
        }
    }
    found = problems_of(document)
    assert [(p.pointer, p.message) for p in found] == [
        ("/paths/~1a~1b", "expected a Path Item Object"),
        ("/paths/~1c/get", "expected an Operation Object"),
        ("/paths/~1c/post/parameters", "expected an array"),
        ("/paths/d", "path 'd' must start with `/`"),
    ]


def test_tools_from_openapi_checks_structure_too() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        tools_from_openapi({"openapi": "3.0.0", "info": {"title": "x", "version": "1"}}, "d")
    assert [p.pointer for p in caught.value.problems] == ["/paths"]


def test_read_openapi_reads_a_file_and_names_missing_ones(tmp_path: Path) -> None:
    path = tmp_path / "todo.json"
    path.write_text(json.dumps(MINIMAL))
    assert read_openapi(path) == MINIMAL
    with pytest.raises(InvalidDocumentError) as caught:
        read_openapi(tmp_path / "missing.yaml")
    assert caught.value.source.endswith("missing.yaml")
    assert "cannot read file" in caught.value.problems[0].message


def test_unquoted_numeric_info_version_is_explained() -> None:
    (problem,) = problems(b"openapi: 3.0.3\ninfo: {title: x, version: 1.10}\npaths: {}\n")
    assert problem == Problem("/info/version", "expected a string, not 1.1; quote it in YAML")


def test_yaml_1_2_scalars_stay_strings() -> None:
    document = load_openapi(
        b"openapi: 3.0.3\ninfo: {title: x, version: 2024-06-20}\npaths:\n"
        b"  /a:\n    get:\n      responses:\n        200: {description: on}\n",
        "doc",
    )
    assert document["info"]["version"] == "2024-06-20"
    assert document["paths"]["/a"]["get"]["responses"] == {"200": {"description": "on"}}


def test_deep_nesting_is_refused_without_crashing() -> None:
    (yaml_problem,) = problems(b"openapi: " + b"[" * 100_000)
    # Our own depth check, or libyaml's when it is new enough to refuse first (PyYAML >= 6.0.3).
    assert "nested deeper than" in yaml_problem.message or "nesting depth" in yaml_problem.message
    (json_problem,) = problems(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert "nested too deeply" in json_problem.message
