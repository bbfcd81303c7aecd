"""Server URLs an operation's requests go to, and the hosts egress must allow for them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from registry.errors import Problem
from registry.openapi.refs import Location
from registry.pointers import json_pointer

_VARIABLE = re.compile(r"\{([^{}]*)\}")


def server_urls(servers: Any, at: Location, problems: list[Problem]) -> list[str]:
    """Absolute `http(s)` server URLs with variables set to their defaults, no trailing `/`.

    Relative URLs (`/v3`) are left out: they only mean something next to the document's own
    URL, which a stored document no longer has.
    """
    if not isinstance(servers, list):
        return []
    urls = []
    for index, server in enumerate(servers):
        where = (*at, index)
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            problems.append(Problem(json_pointer(where), "expected a Server Object with a `url`"))
            continue
        url = _substitute(server["url"], server.get("variables", {}), where, problems)
        parts = urlsplit(url)
        if url and parts.scheme in {"http", "https"} and parts.hostname:
            urls.append(url.rstrip("/"))
    return urls


def hostname(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def egress_entry(url: str) -> str:
    """The egress entry that lets a sandbox reach `url`: its host, plus the port when the URL
    names one other than its scheme's (an entry without a port allows 80 and 443)."""
    parts = urlsplit(url)
    host = hostname(url)
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port is None or port == default else f"{host}:{port}"


def _substitute(url: str, variables: Any, at: Location, problems: list[Problem]) -> str:
    """`url` with each `{name}` replaced by the default of its server variable."""
    if not isinstance(variables, dict):
        problems.append(Problem(json_pointer([*at, "variables"]), "expected an object"))
        return ""
    failed = False

    def default(match: re.Match[str]) -> str:
        nonlocal failed
        name = match.group(1)
        variable = variables.get(name)
        if not isinstance(variable, dict):
            problems.append(
                Problem(
                    json_pointer([*at, "url"]),
                    f"server variable `{{{name}}}` is not defined; add it under `variables`",
                )
            )
        elif not isinstance(variable.get("default"), str):
            problems.append(
                Problem(
                    json_pointer([*at, "variables", name, "default"]),
                    "required field is missing; give the variable a string `default`",
                )
            )
        else:
            return str(variable["default"])
        failed = True
        return ""

    result = _VARIABLE.sub(default, url)
    return "" if failed else result
