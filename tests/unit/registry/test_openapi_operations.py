"""Operations to tools, on small inline documents: inputs, outputs, security, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from registry.errors import InvalidDocumentError, Problem
from registry.openapi import OpenAPIImport, tools_from_openapi
from registry.tooldefs import ToolDefinition

OK = {"responses": {"204": {"description": "done"}}}


def document(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": paths} | extra


def convert(paths: dict[str, Any], **extra: Any) -> OpenAPIImport:
    return tools_from_openapi(document(paths, **extra), "inline")


def only(paths: dict[str, Any], **extra: Any) -> ToolDefinition:
    (definition,) = convert(paths, **extra).tools
    return definition


def problems(paths: dict[str, Any], **extra: Any) -> list[Problem]:
    with pytest.raises(InvalidDocumentError) as caught:
        convert(paths, **extra)
    return caught.value.problems


def param(name: str, where: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "schema": {"type": "string"}} | more


def test_operation_parameters_override_path_item_ones_in_place() -> None:
    definition = only(
        {
            "/items/{id}": {
                "parameters": [
                    param("id", "path", required=True, description="path item"),
                    param("q", "query"),
                ],
                "get": {"parameters": [param("id", "path", description="operation")], **OK},
            }
        }
    )
    schema = definition.tool.input_schema
    assert list(schema["properties"]) == ["id", "q"]
    assert schema["properties"]["id"]["description"] == "operation"
    assert schema["required"] == ["id"]  # path parameters are always required


def test_cookies_and_reserved_headers_are_left_out() -> None:
    definition = only(
        {
            "/a": {
                "get": {
                    "parameters": [
                        param("session", "cookie"),
                        param("Authorization", "header"),
                        param("Content-Type", "header"),
                        param("X-Trace", "header", required=True),
                    ],
                    **OK,
                }
            }
        }
    )
    assert definition.tool.input_schema["properties"] == {"X-Trace": {"type": "string"}}
    assert definition.tool.input_schema["required"] == ["X-Trace"]


def test_same_name_in_two_locations_is_prefixed() -> None:
    definition = only(
        {
            "/a/{id}": {
                "post": {
                    "parameters": [
                        param("id", "path"),
                        param("id", "query"),
                        param("id", "header"),
                        param("body", "query"),
                    ],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                    **OK,
                }
            }
        }
    )
    assert list(definition.tool.input_schema["properties"]) == [
        "id",
        "query_id",
        "header_id",
        "query_body",
        "body",
    ]
    assert definition.binding is not None
    assert [(p["name"], p["in"], p["property"]) for p in definition.binding["parameters"]] == [
        ("id", "path", "id"),
        ("id", "query", "query_id"),
        ("id", "header", "header_id"),
        ("body", "query", "query_body"),
    ]


def test_parameter_given_as_content_is_bound_with_its_media_type() -> None:
    definition = only(
        {
            "/a": {
                "get": {
                    "parameters": [
                        {
                            "name": "filter",
                            "in": "query",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    ],
                    **OK,
                }
            }
        }
    )
    assert definition.tool.input_schema["properties"]["filter"] == {"type": "object"}
    assert definition.binding is not None
    assert definition.binding["parameters"][0]["contentType"] == "application/json"


@pytest.mark.parametrize(
    ("media_types", "chosen"),
    [
        (["text/plain", "application/json"], "application/json"),
        (["text/plain", "application/merge-patch+json"], "application/merge-patch+json"),
        (
            ["multipart/form-data", "application/x-www-form-urlencoded"],
            "application/x-www-form-urlencoded",
        ),
        (["text/plain", "multipart/form-data"], "multipart/form-data"),
        (["text/csv", "text/plain"], "text/csv"),
    ],
)
def test_request_body_media_type_preference(media_types: list[str], chosen: str) -> None:
    content = {m: {"schema": {"type": "object"}} for m in media_types}
    definition = only({"/a": {"post": {"requestBody": {"content": content}, **OK}}})
    assert definition.binding is not None
    assert definition.binding["body"] == {"property": "body", "contentType": chosen}


def test_output_prefers_lowest_2xx_then_2xx_range_and_ignores_default() -> None:
    def schema(title: str) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": {"type": "object", "title": title}}}}

    responses = {"default": schema("default"), "2XX": schema("range"), "202": schema("202")}
    output = only({"/a": {"post": {"responses": responses}}}).tool.output_schema
    assert output == {"type": "object", "title": "202"}
    responses = {"default": schema("default"), "2XX": schema("range"), "204": {"description": "x"}}
    output = only({"/a": {"post": {"responses": responses}}}).tool.output_schema
    assert output == {"type": "object", "title": "range"}
    output = only({"/a": {"post": {"responses": {"default": schema("d")}}}}).tool.output_schema
    assert output is None


def test_non_json_success_gives_no_output_schema() -> None:
    responses = {"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}}
    definition = only({"/a": {"get": {"responses": responses}}})
    assert definition.tool.output_schema is None
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is False


def test_referenced_response_and_object_ref_output() -> None:
    components = {
        "responses": {
            "Pet": {
                "description": "a pet",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
            }
        },
        "schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    definition = only(
        {"/pet": {"get": {"responses": {"200": {"$ref": "#/components/responses/Pet"}}}}},
        components=components,
    )
    assert definition.tool.output_schema == {
        "type": "object",
        "properties": {"name": {"type": "string"}},
    }


def test_security_requirements_and_scopes() -> None:
    schemes = {
        "oauth": {"type": "oauth2", "flows": {}},
        "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://id.example.com"},
        "key": {"type": "apiKey", "name": "k", "in": "header"},
    }
    paths = {
        "/a": {
            "get": {"security": [{"oauth": ["b", "a", "b"], "oidc": ["c"], "key": []}], **OK},
            "put": {"security": [], **OK},
            "post": {"security": [{}, {"oauth": ["x"]}], **OK},
            "delete": OK,
        }
    }
    tools = convert(
        paths,
        components={"securitySchemes": schemes},
        security=[{"key": []}, {"oauth": ["root"]}],
    ).tools
    assert [(t.scopes, t.binding and t.binding["security"]) for t in tools] == [
        (["a", "b", "c"], ["oauth", "oidc", "key"]),
        ([], []),
        ([], []),
        ([], ["key"]),
    ]


def test_operation_level_servers_go_to_binding_and_egress() -> None:
    result = convert(
        {
            "/a": {
                "servers": [{"url": "https://uploads.example.com/"}],
                "get": OK,
                "post": {
                    "servers": [
                        {
                            "url": "https://{zone}.example.net",
                            "variables": {"zone": {"default": "eu"}},
                        }
                    ],
                    **OK,
                },
            },
            "/b": {"get": OK},
        },
        servers=[{"url": "https://api.example.com/v1"}, {"url": "https://api.example.com/v2"}],
    )
    assert result.servers == ["https://api.example.com/v1", "https://api.example.com/v2"]
    assert result.egress_hosts == ["api.example.com", "uploads.example.com", "eu.example.net"]
    bindings = [t.binding or {} for t in result.tools]
    assert bindings[0]["servers"] == ["https://uploads.example.com"]
    assert bindings[1]["servers"] == ["https://eu.example.net"]
    assert "servers" not in bindings[2]


def test_no_operations_is_a_problem() -> None:
    assert problems({"/a": {"summary": "nothing here"}}) == [
        Problem("/paths", "no operations found; declare at least one")
    ]


def test_external_ref_is_refused_at_its_pointer() -> None:
    found = problems({"/a": {"get": {"parameters": [{"$ref": "common.yaml#/Limit"}], **OK}}})
    assert found == [
        Problem(
            "/paths/~1a/get/parameters/0/$ref",
            "external reference `common.yaml#/Limit` is not supported; bundle the document "
            "into one file first (for example with `redocly bundle`)",
        )
    ]


def test_dangling_refs_name_the_ref_and_where_it_is() -> None:
    paths = {
        "/a": {
            "post": {
                "parameters": [{"$ref": "#/components/parameters/limit"}],
                "requestBody": {"$ref": "#/components/requestBodies/Missing"},
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}
                        },
                    }
                },
            }
        }
    }
    found = problems(paths)
    assert [p.pointer for p in found] == [
        "/paths/~1a/post/parameters/0/$ref",
        "/paths/~1a/post/requestBody/$ref",
        "/paths/~1a/post/responses/200/content/application~1json/schema/$ref",
    ]
    assert "`#/components/parameters/limit` points to nothing" in found[0].message
    assert "`#/components/schemas/Gone`" in found[2].message


def test_problems_inside_a_referenced_parameter_point_into_components() -> None:
    found = problems(
        {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/bad"}], **OK}}},
        components={"parameters": {"bad": {"name": "x", "in": "body"}}},
    )
    assert [p.pointer for p in found] == [
        "/components/parameters/bad/in",
        "/components/parameters/bad",
    ]
    assert "expected one of `path`, `query`, `header`, `cookie`, not 'body'" in found[0].message
    assert "needs a `schema`" in found[1].message


def test_invalid_parameters_are_all_reported() -> None:
    found = problems(
        {
            "/a/{id}": {
                "get": {
                    "parameters": [
                        "limit",
                        {"in": "query", "schema": {}},
                        param("q", "query"),
                        param("q", "query"),
                        param("other", "path"),
                    ],
                    **OK,
                }
            }
        }
    )
    assert [(p.pointer, p.message) for p in found] == [
        ("/paths/~1a~1{id}/get/parameters/0", "expected a Parameter Object or a `$ref`"),
        ("/paths/~1a~1{id}/get/parameters/1/name", "expected a non-empty string"),
        (
            "/paths/~1a~1{id}/get/parameters/3",
            "duplicate parameter `q` in `query`; declare each name and location once per list",
        ),
        (
            "/paths/~1a~1{id}/get",
            "`{id}` in `/a/{id}` has no `in: path` parameter; declare it under `parameters`",
        ),
        (
            "/paths/~1a~1{id}/get/parameters/4",
            "`other` is `in: path` but `/a/{id}` has no `{other}`; fix the name or the location",
        ),
    ]


def test_ref_cycle_is_a_problem_not_a_hang() -> None:
    found = problems(
        {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/a"}], **OK}}},
        components={
            "parameters": {
                "a": {"$ref": "#/components/parameters/b"},
                "b": {"$ref": "#/components/parameters/a"},
            }
        },
    )
    assert len(found) == 1
    assert "reference cycle" in found[0].message


def test_referenced_path_item_with_bad_operation() -> None:
    found = problems(
        {"/a": {"$ref": "#/components/pathItems/A"}},
        components={"pathItems": {"A": {"get": "nope"}}},
    )
    assert found == [Problem("/components/pathItems/A/get", "expected an Operation Object")]


def test_undeclared_security_scheme_and_missing_server_variable() -> None:
    found = problems(
        {"/a": {"get": {"security": [{"oauth": []}], **OK}}},
        servers=[{"url": "https://{region}.example.com"}],
    )
    assert found == [
        Problem(
            "/servers/0/url",
            "server variable `{region}` is not defined; add it under `variables`",
        ),
        Problem(
            "/paths/~1a/get/security/0/oauth",
            "`oauth` is not declared in `components.securitySchemes`",
        ),
    ]


def test_invalid_derived_schema_is_reported_at_the_operation() -> None:
    found = problems(
        {
            "/a": {
                "get": {
                    "parameters": [{"name": "n", "in": "query", "schema": {"type": "file"}}],
                    **OK,
                }
            }
        }
    )
    assert len(found) == 1
    assert found[0].pointer == "/paths/~1a/get"
    assert "not valid JSON Schema 2020-12" in found[0].message
    assert "'file'" in found[0].message


def test_description_falls_back_to_method_and_path() -> None:
    definition = only({"/a/{b}": {"get": {"parameters": [param("b", "path")], **OK}}})
    assert definition.tool.title is None
    assert definition.tool.description == "GET /a/{b}"


def test_parameter_description_example_and_deprecation_are_kept() -> None:
    definition = only(
        {
            "/a": {
                "get": {
                    "parameters": [
                        param(
                            "old", "query", description="Use `new`.", deprecated=True, example="x"
                        )
                    ],
                    **OK,
                }
            }
        }
    )
    assert definition.tool.input_schema["properties"]["old"] == {
        "type": "string",
        "description": "Use `new`.",
        "deprecated": True,
        "examples": ["x"],
    }


def test_relative_operation_servers_stay_relative_and_empty_ones_count_as_none() -> None:
    result = convert(
        {
            "/a": {
                "servers": [{"url": "/v3"}],
                "get": {"servers": [], **OK},
                "put": {"servers": [{"url": "/v2/"}, {"url": "ftp://files.example.com"}], **OK},
            },
            "/b": {"get": {"servers": [{"url": "ftp://files.example.com"}], **OK}},
        },
        servers=[{"url": "/v1"}, {"url": "https://api.example.com/v1"}],
    )
    assert result.servers == ["https://api.example.com/v1"]
    assert result.egress_hosts == ["api.example.com"]
    bindings = [t.binding or {} for t in result.tools]
    assert [b.get("servers") for b in bindings] == [["/v3"], ["/v2/"], None]
