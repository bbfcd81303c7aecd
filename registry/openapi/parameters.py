"""An operation's parameters: path-item and operation lists merged, each one checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from registry.errors import Problem
from registry.openapi.refs import Location, Resolver
from registry.pointers import json_pointer

LOCATIONS = ("path", "query", "header", "cookie")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
"""Headers OpenAPI says to ignore as parameters: content negotiation and auth set them."""
_TEMPLATE = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Parameter:
    """A parameter with its `$ref` followed; `spec` is the Parameter Object, found at `at`."""

    name: str
    location: str
    spec: dict[str, Any]
    at: Location

    @property
    def schema(self) -> tuple[Any, Location, str | None]:
        """The schema, where it sits, and the media type when given as `content`."""
        if "schema" in self.spec:
            return self.spec["schema"], (*self.at, "schema"), None
        media_type, media = next(iter(self.spec["content"].items()))
        return media.get("schema", {}), (*self.at, "content", media_type, "schema"), media_type


def operation_parameters(
    lists: list[tuple[Any, Location]], resolver: Resolver, problems: list[Problem]
) -> list[Parameter]:
    """Parameters from the path item's then the operation's list; later ones replace earlier
    ones of the same name and location. Cookies and the headers OpenAPI ignores are left out.
    """
    merged: dict[tuple[str, str], Parameter] = {}
    for raw_list, at in lists:
        if raw_list is None:
            continue
        seen: set[tuple[str, str]] = set()
        for index, raw in enumerate(raw_list):
            parameter = _parameter(raw, (*at, index), resolver, problems)
            if parameter is None:
                continue
            key = (parameter.name, parameter.location)
            if key in seen:
                problems.append(
                    Problem(
                        json_pointer([*at, index]),
                        f"duplicate parameter `{parameter.name}` in `{parameter.location}`; "
                        "declare each name and location once per list",
                    )
                )
            seen.add(key)
            merged[key] = parameter
    return [
        p
        for p in merged.values()
        if p.location != "cookie"
        and not (p.location == "header" and p.name.lower() in _IGNORED_HEADERS)
    ]


def check_path_template(
    path: str, parameters: list[Parameter], at: Location, problems: list[Problem]
) -> None:
    """Every `{name}` in `path` needs an `in: path` parameter, and vice versa."""
    in_template = _TEMPLATE.findall(path)
    declared = {p.name: p for p in parameters if p.location == "path"}
    for name in in_template:
        if name not in declared:
            problems.append(
                Problem(
                    json_pointer(at),
                    f"`{{{name}}}` in `{path}` has no `in: path` parameter; declare it "
                    "under `parameters`",
                )
            )
    for name, parameter in declared.items():
        if name not in in_template:
            problems.append(
                Problem(
                    json_pointer(parameter.at),
                    f"`{name}` is `in: path` but `{path}` has no `{{{name}}}`; fix the name "
                    "or the location",
                )
            )


def _parameter(
    raw: Any, at: Location, resolver: Resolver, problems: list[Problem]
) -> Parameter | None:
    followed = resolver.follow(raw, at)
    if followed is None:
        return None
    spec, at = followed
    if not isinstance(spec, dict):
        problems.append(Problem(json_pointer(at), "expected a Parameter Object or a `$ref`"))
        return None
    found = len(problems)
    name, location = spec.get("name"), spec.get("in")
    if not isinstance(name, str) or not name:
        problems.append(Problem(json_pointer([*at, "name"]), "expected a non-empty string"))
    if location not in LOCATIONS:
        problems.append(
            Problem(
                json_pointer([*at, "in"]),
                f"expected one of `path`, `query`, `header`, `cookie`, not {location!r}",
            )
        )
    if "schema" not in spec:
        _check_content(spec.get("content"), at, problems)
    if len(problems) > found:
        return None
    return Parameter(str(name), str(location), spec, at)


def _check_content(content: Any, at: Location, problems: list[Problem]) -> None:
    """A parameter without `schema` needs `content` with one media type (an object)."""
    if not isinstance(content, dict) or len(content) != 1:
        problems.append(
            Problem(
                json_pointer(at),
                "a parameter needs a `schema`, or a `content` map with exactly one media type",
            )
        )
        return
    media_type, media = next(iter(content.items()))
    if not isinstance(media, dict):
        problems.append(Problem(json_pointer([*at, "content", media_type]), "expected an object"))
