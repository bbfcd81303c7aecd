"""Server URLs an operation's requests go to, and the hosts egress must allow for them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from registry.errors import Problem
from registry.openapi.refs import Location
from registry.pointers import json_pointer

_VARIABLE = re.compile(r"\{([^{}]*)\}")
_ABSOLUTE = re.compile(r"^https?://[^/?#]", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def server_urls(servers: Any, at: Location, problems: list[Problem]) -> list[str]:
    """Server URLs with variables set to their defaults: absolute `http(s)` ones without a
    trailing `/`, and relative ones (`/v3`) as written; URLs of other schemes are left out.

    A relative URL only means something next to the document's own URL, which a stored
    document no longer has: `resolve` puts it next to the base URL instead. Absolute ones are
    checked where calls use them (`url_refusal`), so that `--base-url` can stand in for a
    document's unusable server.
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
        if is_absolute(url):
            urls.append(url.rstrip("/"))
        elif _is_relative(url):
            urls.append(url)
    return urls


def is_absolute(url: str) -> bool:
    return bool(_ABSOLUTE.match(url))


def resolve(url: str, base: str) -> str:
    """`url` against `base` as OpenAPI resolves it against the document's own URL (`/v3` next
    to `https://api.example.com/v1` is `https://api.example.com/v3`); absolute ones stay."""
    return url if is_absolute(url) else urljoin(base, url).rstrip("/")


def _is_relative(url: str) -> bool:
    """A path (`/v3`, `v3`), not a URL of another scheme (`ftp:`) or host (`//host/v3`)."""
    return bool(url) and not url.startswith("//") and not _SCHEME.match(url)


def url_refusal(url: str) -> str | None:
    """Why calls cannot go to `url`, or None; the reason follows the URL in a message.

    Operation paths are appended to the URL as it is, so anything but scheme, host, port and
    path would break each call or, as a user name and password, bypass the encrypted secrets.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "has an invalid host; enclose an IPv6 address in `[` and `]`"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "has an invalid port; use a number from 1 to 65535, or leave it out for the default"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL such as `https://api.example.com/v1`"
    if "@" in parts.netloc:
        return (
            "must not contain a user name or password; credentials are secrets of the "
            "document's security schemes, stored encrypted with `switchboard secret set`"
        )
    if "?" in url or "#" in url:
        return (
            "must not contain a query (`?`) or fragment (`#`), as operation paths are appended "
            "to it; an API key in the query belongs in a security scheme's secret"
        )
    if "{" in url or "}" in url:
        return "must not contain `{` or `}`; write the value of a server variable in its place"
    return None


def hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def egress_entry(url: str) -> str:
    """The egress entry that lets a sandbox reach `url`, which `url_refusal` accepts: its host,
    plus the port when the URL names one other than its scheme's (an entry without a port
    allows 80 and 443)."""
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
