"""An operation's output schema, from its first successful JSON response.

MCP wants an object at the root of an output schema, so any other result is wrapped as
`{"result": ...}`; the binding's `wrapResult` tells the bridge to wrap the response the same way.
"""

from __future__ import annotations

import re
from typing import Any

from registry.errors import Problem
from registry.openapi.media import json_media_type
from registry.openapi.refs import Location, Resolver
from registry.openapi.schemas import SchemaConverter
from registry.pointers import json_pointer

RESULT = "result"
_SUCCESS = re.compile(r"^2\d\d$")


def output_schema(
    responses: Any,
    at: Location,
    resolver: Resolver,
    schemas: SchemaConverter,
    problems: list[Problem],
) -> tuple[dict[str, Any] | None, bool]:
    """The output schema (or `None`) and whether results are wrapped in `result`.

    Responses are tried in the order 200, 201, ..., 299, then `2XX`; `default` is not used.
    """
    if not isinstance(responses, dict):
        return None, False
    keys = [key for key in responses if isinstance(key, str)]
    codes = sorted((c for c in keys if _SUCCESS.match(c)), key=int)
    codes += [c for c in keys if c.upper() == "2XX"]
    for code in codes:
        found = _json_schema(responses[code], (*at, code), resolver, problems)
        if found is not None:
            root, wrapped = _as_object(schemas.convert(*found), schemas)
            return schemas.standalone(root), wrapped
    return None, False


def _json_schema(
    raw: Any, at: Location, resolver: Resolver, problems: list[Problem]
) -> tuple[Any, Location] | None:
    """The schema of a response's JSON content, and where it sits, if it has one."""
    followed = resolver.follow(raw, at)
    if followed is None:
        return None
    response, at = followed
    if not isinstance(response, dict):
        problems.append(Problem(json_pointer(at), "expected a Response Object or a `$ref`"))
        return None
    content = response.get("content")
    if not isinstance(content, dict):
        return None
    media_type = json_media_type(list(content))
    media = content.get(media_type) if media_type else None
    if not isinstance(media, dict) or "schema" not in media:
        return None
    return media["schema"], (*at, "content", str(media_type), "schema")


def _as_object(root: Any, schemas: SchemaConverter) -> tuple[dict[str, Any], bool]:
    """`root` if it is an object schema (directly or as a bare `$ref`), else wrapped."""
    candidate = root
    if isinstance(root, dict) and isinstance(root.get("$ref"), str):
        target = schemas.defs.get(root["$ref"].removeprefix("#/$defs/"))
        annotations = root.keys() <= {"$ref", "title", "description"}
        if isinstance(target, dict) and annotations:
            candidate = target | {k: v for k, v in root.items() if k != "$ref"}
    if isinstance(candidate, dict) and candidate.get("type") == "object":
        return candidate, False
    return {"type": "object", "properties": {RESULT: root}, "required": [RESULT]}, True
