"""An operation's input schema and the request half of its call binding.

One property per path, query and header parameter, plus `body` for the request body. A name
used in two locations keeps it for the first and becomes `<in>_<name>` for the later one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from registry.errors import Problem
from registry.openapi.media import body_media_type
from registry.openapi.names import unique
from registry.openapi.parameters import Parameter
from registry.openapi.refs import Location, Resolver
from registry.openapi.schemas import SchemaConverter
from registry.pointers import json_pointer

BODY = "body"


@dataclass(frozen=True)
class Body:
    """The chosen media type of a request body and its schema, found at `at`."""

    content_type: str
    schema: Any
    at: Location
    required: bool
    description: str | None


def request_body(
    raw: Any, at: Location, resolver: Resolver, problems: list[Problem]
) -> Body | None:
    """The request body to offer: JSON if possible, then form encodings, then the first.

    A body whose schema admits only `{}` (as Stripe declares for GET) is no body at all.
    """
    if raw is None:
        return None
    followed = resolver.follow(raw, at)
    if followed is None:
        return None
    spec, at = followed
    content = spec.get("content") if isinstance(spec, dict) else None
    if not isinstance(content, dict) or not content:
        problems.append(
            Problem(
                json_pointer([*at, "content"]),
                "expected a map of media types such as `application/json` to their schemas",
            )
        )
        return None
    content_type = body_media_type(list(content))
    media = content[content_type]
    if not isinstance(media, dict):
        problems.append(Problem(json_pointer([*at, "content", content_type]), "expected an object"))
        return None
    schema = media.get("schema", {})
    if _admits_only_empty_object(schema):
        return None
    description = spec.get("description")
    return Body(
        content_type,
        schema,
        (*at, "content", content_type, "schema"),
        spec.get("required") is True,
        description if isinstance(description, str) else None,
    )


def input_schema(
    parameters: list[Parameter], body: Body | None, schemas: SchemaConverter
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str] | None]:
    """The input schema, the parameter bindings and the body binding."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    bindings: list[dict[str, Any]] = []
    taken = {BODY} if body else set()
    for parameter in parameters:
        wanted = parameter.name
        if wanted in taken:
            wanted = f"{parameter.location}_{parameter.name}"
        name = unique(wanted, taken)
        schema, at, content_type = parameter.schema
        properties[name] = _annotated(schemas.convert(schema, at), parameter.spec)
        if parameter.location == "path" or parameter.spec.get("required") is True:
            required.append(name)
        bindings.append(_binding(parameter, name, content_type))
    body_binding = None
    if body is not None:
        schema = schemas.convert(body.schema, body.at)
        properties[BODY] = _annotated(schema, {"description": body.description})
        if body.required:
            required.append(BODY)
        body_binding = {"property": BODY, "contentType": body.content_type}
    root = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return schemas.standalone(root), bindings, body_binding


def _annotated(schema: Any, spec: dict[str, Any]) -> Any:
    """A property's schema with the parameter's (or body's) description and deprecation."""
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    extra: dict[str, Any] = {}
    if isinstance(spec.get("description"), str):
        extra["description"] = spec["description"]
    if spec.get("deprecated") is True:
        extra["deprecated"] = True
    if "example" in spec:
        extra["examples"] = [copy.deepcopy(spec["example"])]
    return schema | extra


def _binding(parameter: Parameter, name: str, content_type: str | None) -> dict[str, Any]:
    binding: dict[str, Any] = {"name": parameter.name, "in": parameter.location, "property": name}
    for key in ("style", "explode", "allowReserved"):
        if key in parameter.spec:
            binding[key] = parameter.spec[key]
    if content_type is not None:
        binding["contentType"] = content_type
    return binding


def _admits_only_empty_object(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and schema.get("additionalProperties") is False
        and not schema.get("properties")
        and not schema.keys() & {"$ref", "allOf", "anyOf", "oneOf", "patternProperties"}
    )
