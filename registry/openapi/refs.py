"""Local `$ref` resolution inside one OpenAPI document.

Only same-document references (`#/...`) are followed: a registry stores one self-contained
document per version, so references to other files or URLs are reported, never fetched.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from registry.errors import Problem
from registry.pointers import json_pointer

Location = tuple[str | int, ...]
"""Where a value sits in the document, as JSON pointer tokens."""

_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_OVERRIDABLE = ("summary", "description")


class Resolver:
    """Follows `$ref`s in one document; every failure is recorded as a Problem at the ref."""

    def __init__(self, document: dict[str, Any], problems: list[Problem]) -> None:
        self._document = document
        self._problems = problems

    def target(self, ref: object, at: Location) -> Location | None:
        """The location `ref` (found at `at`/`$ref`) points to, or `None` when it cannot."""
        where = json_pointer([*at, "$ref"])
        if not isinstance(ref, str):
            self._problems.append(
                Problem(where, "expected a string such as `#/components/schemas/Pet`")
            )
            return None
        if not ref.startswith("#"):
            self._problems.append(
                Problem(
                    where,
                    f"external reference `{ref}` is not supported; bundle the document into "
                    "one file first (for example with `redocly bundle`)",
                )
            )
            return None
        if ref != "#" and not ref.startswith("#/"):
            self._problems.append(
                Problem(where, f"`{ref}` is not a JSON pointer; write it as `#/components/...`")
            )
            return None
        location = self._walk(ref)
        if location is None:
            self._problems.append(
                Problem(where, f"`{ref}` points to nothing in this document; check the name")
            )
        return location

    def get(self, location: Location) -> Any:
        """The value at a location `target` returned."""
        value: Any = self._document
        for token in location:
            value = value[token]
        return value

    def follow(self, value: Any, at: Location) -> tuple[Any, Location] | None:
        """`value` with its chain of `$ref`s followed, and where the result sits.

        For Reference Objects in place of parameters, request bodies, responses, path items
        and security schemes. A `summary` or `description` next to the `$ref` overrides the
        target's (OpenAPI 3.1).
        """
        overrides: dict[str, Any] = {}
        seen: set[Location] = set()
        while isinstance(value, dict) and "$ref" in value:
            overrides = {k: value[k] for k in _OVERRIDABLE if k in value} | overrides
            target = self.target(value["$ref"], at)
            if target is None:
                return None
            if target in seen:
                self._problems.append(
                    Problem(
                        json_pointer([*at, "$ref"]),
                        f"`{value['$ref']}` is part of a reference cycle; point it at the "
                        "object itself",
                    )
                )
                return None
            seen.add(target)
            value, at = self.get(target), target
        if overrides and isinstance(value, dict):
            value = value | overrides
        return value, at

    def _walk(self, ref: str) -> Location | None:
        value: Any = self._document
        location: list[str | int] = []
        for raw in ref[2:].split("/") if ref != "#" else []:
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(value, dict) and token in value:
                value = value[token]
                location.append(token)
            elif isinstance(value, list) and _INDEX.match(token) and int(token) < len(value):
                value = value[int(token)]
                location.append(int(token))
            else:
                return None
        return tuple(location)
