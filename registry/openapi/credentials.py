"""What credentials each stored operation accepts, read back from its version's document.

A tool's binding keeps the scheme names of the first security alternative (its scopes come
from there); a bridge calling the operation needs every alternative, to send whichever one has
secrets stored, and the schemes' definitions, to know where each credential goes.
"""

from __future__ import annotations

from typing import Any

from registry.errors import Problem
from registry.openapi.refs import Resolver
from registry.openapi.security import security_schemes


def declared_schemes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`components.securitySchemes` with `$ref`s followed (the document passed import)."""
    problems: list[Problem] = []
    return security_schemes(document, Resolver(document, problems), problems)


def accepted_credentials(document: dict[str, Any], binding: dict[str, Any]) -> list[list[str]]:
    """Scheme names of each alternative the bound operation accepts, in the document's order.

    The operation's `security` replaces the document's; `[]` means none is needed.
    """
    resolver = Resolver(document, [])
    path = str(binding["path"])
    followed = resolver.follow(document.get("paths", {}).get(path), ("paths", path))
    item = followed[0] if followed else None
    operation = item.get(str(binding["method"]).lower()) if isinstance(item, dict) else None
    if not isinstance(operation, dict):
        raise ValueError(
            f"the document has no operation {binding['method']} {path}; the stored tools do "
            "not belong to this document"
        )
    security = operation.get("security", document.get("security", []))
    return [list(alternative) for alternative in security if isinstance(alternative, dict)]
