"""JSON pointers (RFC 6901) for error messages that say exactly where a document is wrong."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from registry.errors import Problem


def json_pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def problems_from_validation(
    error: ValidationError, prefix: Iterable[str | int] = ()
) -> list[Problem]:
    """Turn pydantic's errors into problems located by pointer, in the document's own names."""
    base = list(prefix)
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(json_pointer([*base, *loc]), message))
    return problems
