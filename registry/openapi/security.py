"""Security schemes, and the schemes and OAuth scopes an operation requires."""

from __future__ import annotations

from typing import Any

from registry.errors import Problem
from registry.openapi.refs import Location, Resolver
from registry.pointers import json_pointer

_TYPES = ("apiKey", "http", "oauth2", "openIdConnect", "mutualTLS")
_SCOPED = frozenset({"oauth2", "openIdConnect"})


def security_schemes(
    document: dict[str, Any], resolver: Resolver, problems: list[Problem]
) -> dict[str, dict[str, Any]]:
    """`components.securitySchemes` with `$ref`s followed, each checked for a known `type`."""
    raw = document.get("components", {}).get("securitySchemes", {})
    schemes: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        at: Location = ("components", "securitySchemes", name)
        followed = resolver.follow(value, at)
        if followed is None:
            continue
        scheme, at = followed
        if not isinstance(scheme, dict) or scheme.get("type") not in _TYPES:
            problems.append(
                Problem(
                    json_pointer([*at, "type"]),
                    f"expected a Security Scheme Object with `type` one of {', '.join(_TYPES)}",
                )
            )
            continue
        schemes[name] = scheme
    return schemes


def requirement(
    security: Any, at: Location, schemes: dict[str, dict[str, Any]], problems: list[Problem]
) -> tuple[list[str], list[str]]:
    """The scheme names and sorted OAuth scopes of the first alternative in `security`.

    An empty list (`security: []`) or an empty alternative (`{}`) means no authentication.
    """
    if not isinstance(security, list):
        problems.append(Problem(json_pointer(at), "expected an array of Security Requirements"))
        return [], []
    for index, alternative in enumerate(security):
        if not isinstance(alternative, dict):
            problems.append(
                Problem(json_pointer([*at, index]), "expected an object of scheme names to scopes")
            )
            continue
        for name, scopes in alternative.items():
            where = json_pointer([*at, index, name])
            if name not in schemes:
                problems.append(
                    Problem(where, f"`{name}` is not declared in `components.securitySchemes`")
                )
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                problems.append(Problem(where, "expected an array of scope names"))
    if not security or not isinstance(security[0], dict):
        return [], []
    first: dict[str, Any] = security[0]
    names = list(first)
    scopes = {
        scope
        for name in names
        if schemes.get(name, {}).get("type") in _SCOPED and isinstance(first[name], list)
        for scope in first[name]
        if isinstance(scope, str)
    }
    return names, sorted(scopes)
