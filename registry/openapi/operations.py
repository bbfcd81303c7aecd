"""One MCP tool per OpenAPI operation, in document order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from registry.errors import Problem
from registry.openapi.inputs import input_schema, request_body
from registry.openapi.names import tool_name, unique
from registry.openapi.outputs import output_schema
from registry.openapi.parameters import check_path_template, operation_parameters
from registry.openapi.refs import Location, Resolver
from registry.openapi.schemas import SchemaConverter
from registry.openapi.security import requirement
from registry.openapi.servers import server_urls
from registry.openapi.structure import METHODS, check_path_item
from registry.pointers import json_pointer
from registry.tooldefs import Tool, ToolAnnotations, ToolDefinition

_READ_ONLY = frozenset({"get", "head"})
_IDEMPOTENT = frozenset({"get", "head", "put", "delete", "options"})
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)


@dataclass(frozen=True)
class Context:
    """What every operation of one document is converted with."""

    resolver: Resolver
    schemas: SchemaConverter
    schemes: dict[str, dict[str, Any]]
    security: list[Any]
    problems: list[Problem]
    checked: set[str] = field(default_factory=set)
    """Names of `$defs` already checked against the metaschema."""


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: dict[str, Any]
    at: Location
    item: dict[str, Any]
    item_at: Location


def operation_tools(paths: dict[str, Any], context: Context) -> list[ToolDefinition]:
    """Tools for every operation under `paths`, names made unique in document order."""
    taken: set[str] = set()
    tools = []
    for operation in _operations(paths, context):
        name = unique(
            tool_name(operation.spec.get("operationId"), operation.method, operation.path), taken
        )
        tools.append(_tool(name, operation, context))
    return tools


def _operations(paths: dict[str, Any], context: Context) -> list[Operation]:
    operations = []
    for path, raw_item in paths.items():
        if path.startswith("x-"):
            continue
        followed = context.resolver.follow(raw_item, ("paths", path))
        if followed is None:
            continue
        item, item_at = followed
        if item_at != ("paths", path):
            found = check_path_item(item, list(item_at))
            context.problems.extend(found)
            if found:
                continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                at = (*item_at, method)
                operations.append(Operation(path, method, item[method], at, item, item_at))
    return operations


def _tool(name: str, operation: Operation, context: Context) -> ToolDefinition:
    spec, problems, resolver = operation.spec, context.problems, context.resolver
    parameters = operation_parameters(
        [
            (operation.item.get("parameters"), (*operation.item_at, "parameters")),
            (spec.get("parameters"), (*operation.at, "parameters")),
        ],
        resolver,
        problems,
    )
    check_path_template(operation.path, parameters, operation.at, problems)
    body = request_body(spec.get("requestBody"), (*operation.at, "requestBody"), resolver, problems)
    in_schema, parameter_bindings, body_binding = input_schema(parameters, body, context.schemas)
    out_schema, wrapped = output_schema(
        spec.get("responses"), (*operation.at, "responses"), resolver, context.schemas, problems
    )
    _check_schema(in_schema, "input", operation.at, context)
    if out_schema is not None:
        _check_schema(out_schema, "output", operation.at, context)

    in_operation = "security" in spec
    schemes, scopes = requirement(
        spec["security"] if in_operation else context.security,
        (*operation.at, "security") if in_operation else ("security",),
        context.schemes,
        problems,
    )
    binding: dict[str, Any] = {
        "method": operation.method.upper(),
        "path": operation.path,
        "parameters": parameter_bindings,
        "body": body_binding,
        "security": schemes,
        "wrapResult": wrapped,
    }
    servers = _servers(operation, problems)
    if servers is not None:
        binding["servers"] = servers
    summary = spec.get("summary")
    tool = Tool(
        name=name,
        title=summary.strip() if summary and summary.strip() else None,
        description=_description(operation),
        input_schema=in_schema,
        output_schema=out_schema,
        annotations=_annotations(operation.method),
    )
    return ToolDefinition(tool=tool, scopes=scopes, binding=binding)


def _servers(operation: Operation, problems: list[Problem]) -> list[str] | None:
    """Servers the operation or else its path item declares instead of the document's, if any.

    Relative ones (`/v2`) stay relative: the import resolves them against the base URL calls
    go to. A list with no usable URL (`servers: []`) counts as none, so the next level applies.
    """
    for owner, at in ((operation.spec, operation.at), (operation.item, operation.item_at)):
        urls = server_urls(owner.get("servers"), (*at, "servers"), problems)
        if urls:
            return urls
    return None


def _description(operation: Operation) -> str:
    spec = operation.spec
    text = next(
        (t.strip() for t in (spec.get("description"), spec.get("summary")) if t and t.strip()),
        f"{operation.method.upper()} {operation.path}",
    )
    if spec.get("deprecated") is True:
        text += "\n\nDeprecated: this operation may be removed; prefer an alternative."
    return text


def _annotations(method: str) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=method in _READ_ONLY,
        destructive_hint=False if method in _READ_ONLY else (True if method == "delete" else None),
        idempotent_hint=method in _IDEMPOTENT,
        open_world_hint=True,
    )


def _check_schema(schema: dict[str, Any], kind: str, at: Location, context: Context) -> None:
    """Report a derived schema that is not valid JSON Schema (the document's schemas are bad).

    The root and each `$defs` entry are checked apart, each entry once per document: tools
    share most of their `$defs`, and checking is the slowest step of an import.
    """
    defs = schema.get("$defs", {})
    parts = {"": {k: v for k, v in schema.items() if k != "$defs"}}
    parts |= {name: part for name, part in defs.items() if name not in context.checked}
    context.checked.update(defs)
    for name, part in parts.items():
        error = best_match(_META_VALIDATOR.iter_errors(part))
        if error is not None:
            where = f" in `$defs/{name}`" if name else ""
            context.problems.append(
                Problem(
                    json_pointer(at),
                    f"the {kind} schema made from this operation is not valid JSON Schema "
                    f"2020-12{where}: {error.message} (at `{error.json_path}`); fix the schema "
                    "it comes from",
                )
            )
