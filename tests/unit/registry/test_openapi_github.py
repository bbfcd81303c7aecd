"""The GitHub REST API subset: OpenAPI 3.0.3 in JSON, heavy on `$ref`s, bearer auth."""

from __future__ import annotations

import functools
from pathlib import Path

from jsonschema import Draft202012Validator

from registry.openapi import OpenAPIImport, read_openapi, tools_from_openapi
from registry.tooldefs import ToolDefinition

FIXTURE = Path(__file__).parents[2] / "fixtures" / "openapi" / "github.json"


@functools.cache
def github() -> OpenAPIImport:
    return tools_from_openapi(read_openapi(FIXTURE), FIXTURE.name)


def tool(name: str) -> ToolDefinition:
    return next(t for t in github().tools if t.name == name)


def test_document_metadata() -> None:
    result = github()
    assert result.title == "GitHub v3 REST API"
    assert result.version == "1.1.4"
    assert result.servers == ["https://api.github.com"]
    assert result.egress_hosts == ["api.github.com"]
    assert result.security_schemes["bearerAuth"]["scheme"] == "bearer"


def test_operation_ids_with_slashes_are_sanitised_in_document_order() -> None:
    names = [t.name for t in github().tools]
    assert names[:5] == [
        "users_get-authenticated",
        "repos_list-for-org",
        "repos_get",
        "repos_delete",  # methods in the fixed order: get, put, post, delete, ..., patch
        "repos_update",
    ]
    assert "search_issues-and-pull-requests" in names


def test_referenced_parameters_are_inlined_with_descriptions() -> None:
    schema = tool("issues_list-for-repo").tool.input_schema
    assert list(schema["properties"]) == [
        "owner",
        "repo",
        "milestone",
        "state",
        "assignee",
        "labels",
        "sort",
        "direction",
        "since",
        "per_page",
        "page",
    ]
    assert schema["required"] == ["owner", "repo"]
    assert schema["properties"]["per_page"] == {
        "type": "integer",
        "default": 30,
        "description": "The number of results per page (max 100).",
    }
    assert schema["properties"]["since"]["format"] == "date-time"
    assert "$defs" not in schema


def test_accept_header_parameter_is_ignored() -> None:
    definition = tool("issues_get")
    assert list(definition.tool.input_schema["properties"]) == ["owner", "repo", "issue_number"]
    assert definition.binding is not None
    assert [p["in"] for p in definition.binding["parameters"]] == ["path", "path", "path"]


def test_json_request_body_becomes_body_property() -> None:
    definition = tool("issues_create")
    schema = definition.tool.input_schema
    assert schema["required"] == ["owner", "repo", "body"]
    body = schema["properties"]["body"]
    assert body["required"] == ["title"]
    assert body["properties"]["assignee"]["type"] == ["string", "null"]
    assert body["properties"]["milestone"]["anyOf"][1] == {"type": "null"}
    assert definition.binding is not None
    assert definition.binding["body"] == {"property": "body", "contentType": "application/json"}


def test_optional_body_is_not_required_and_nullable_object_allows_null() -> None:
    schema = tool("issues_lock").tool.input_schema
    assert schema["required"] == ["owner", "repo", "issue_number"]
    assert schema["properties"]["body"]["type"] == ["object", "null"]


def test_example_becomes_examples() -> None:
    body = tool("issues_update").tool.input_schema["properties"]["body"]
    state_reason = body["properties"]["state_reason"]
    assert state_reason["examples"] == ["not_planned"]
    assert "example" not in state_reason
    assert state_reason["enum"] == ["completed", "not_planned", "reopened", None]


def test_object_response_is_output_schema_as_is() -> None:
    definition = tool("repos_get")
    output = definition.tool.output_schema
    assert output is not None
    assert output["title"] == "Full Repository"
    assert output["type"] == "object"
    assert output["properties"]["owner"] == {"$ref": "#/$defs/simple-user"}
    assert "full-repository" not in output["$defs"]
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is False


def test_recursive_repository_schema_is_kept_in_defs() -> None:
    output = tool("repos_get").tool.output_schema
    assert output is not None
    repository = output["$defs"]["repository"]
    template = repository["properties"]["template_repository"]
    assert template["anyOf"] == [{"allOf": [{"$ref": "#/$defs/repository"}]}, {"type": "null"}]
    assert template["description"] == "The repository this one was generated from."
    Draft202012Validator(output).validate(
        {
            "id": 1,
            "name": "Hello-World",
            "full_name": "octocat/Hello-World",
            "owner": {
                "login": "octocat",
                "id": 1,
                "node_id": "MDQ6VXNlcjE=",
                "avatar_url": "https://github.com/images/error/octocat_happy.gif",
                "html_url": "https://github.com/octocat",
                "type": "User",
                "site_admin": False,
            },
            "private": False,
            "description": None,
            "default_branch": "main",
            "subscribers_count": 42,
            "license": None,
        }
    )


def test_array_response_is_wrapped() -> None:
    definition = tool("repos_list-for-org")
    output = definition.tool.output_schema
    assert output is not None
    assert output["properties"]["result"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/minimal-repository"},
    }
    assert output["required"] == ["result"]
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is True


def test_one_of_response_is_wrapped_and_refs_into_other_schemas_get_defs() -> None:
    output = tool("repos_get-content").tool.output_schema
    assert output is not None
    assert output["properties"]["result"]["oneOf"] == [
        {"$ref": "#/$defs/content-directory"},
        {"$ref": "#/$defs/content-file"},
    ]


def test_no_content_responses_give_no_output_schema() -> None:
    for name in ("repos_delete", "issues_lock", "issues_unlock"):
        assert tool(name).tool.output_schema is None


def test_annotations_follow_the_method() -> None:
    get = tool("repos_get").tool.annotations
    assert get is not None
    assert (get.read_only_hint, get.destructive_hint, get.idempotent_hint) == (True, False, True)
    delete = tool("repos_delete").tool.annotations
    assert delete is not None
    assert (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint) == (
        False,
        True,
        True,
    )
    patch = tool("repos_update").tool.annotations
    assert patch is not None
    assert (patch.read_only_hint, patch.idempotent_hint, patch.open_world_hint) == (
        False,
        False,
        True,
    )
    put = tool("issues_lock").tool.annotations
    assert put is not None
    assert put.idempotent_hint is True


def test_bearer_auth_gives_no_scopes() -> None:
    for definition in github().tools:
        assert definition.scopes == []
        assert definition.binding is not None
        assert definition.binding["security"] == ["bearerAuth"]


def test_title_description_and_deprecation() -> None:
    definition = tool("search_issues-and-pull-requests").tool
    assert definition.title == "Search issues and pull requests"
    assert definition.description is not None
    assert definition.description.startswith("Find issues by state and keyword.")
    assert "Deprecated" in definition.description


def test_binding_of_a_path_operation() -> None:
    assert tool("git_get-tree").binding == {
        "method": "GET",
        "path": "/repos/{owner}/{repo}/git/trees/{tree_sha}",
        "parameters": [
            {"name": "owner", "in": "path", "property": "owner"},
            {"name": "repo", "in": "path", "property": "repo"},
            {"name": "tree_sha", "in": "path", "property": "tree_sha"},
            {"name": "recursive", "in": "query", "property": "recursive"},
        ],
        "body": None,
        "security": ["bearerAuth"],
        "wrapResult": False,
    }
