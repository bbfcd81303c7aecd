"""Where an operation's credentials go, from the server's secrets and its security schemes.

An operation accepts any one of its security alternatives; the first whose every scheme has a
stored, usable secret is sent. An empty alternative (anonymous access) is used only when no
other can be. OAuth 2 and OpenID Connect secrets are access tokens, sent as bearer tokens: the
bridge never runs a token flow. Standard library only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


class CredentialError(Exception):
    """No accepted alternative has usable secrets; the message names the secrets to store."""


@dataclass
class Placement:
    """Credentials to add to a request, by location."""

    headers: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)


def credentials_for(
    alternatives: list[list[str]],
    schemes: dict[str, dict[str, Any]],
    secrets: dict[str, str],
    *,
    server: str,
) -> Placement:
    """The credentials of the first alternative that can be sent, else CredentialError."""
    anonymous = not alternatives
    reasons: list[str] = []
    for alternative in alternatives:
        if not alternative:
            anonymous = True
            continue
        unusable = [_unusable(name, schemes.get(name), secrets.get(name)) for name in alternative]
        if not any(unusable):
            return _place(alternative, schemes, secrets)
        reasons += [reason for reason in unusable if reason and reason not in reasons]
    if anonymous:
        return Placement()
    wanted = " or ".join(" and ".join(f"`{name}`" for name in names) for names in alternatives)
    raise CredentialError(
        f"this operation needs the secret {wanted} ({'; '.join(reasons)}); the server's owner "
        f"stores it with `switchboard secret set {server} NAME`"
    )


def _unusable(name: str, scheme: dict[str, Any] | None, secret: str | None) -> str | None:
    """Why the secret for `name` cannot be sent, or None when it can."""
    if scheme is None:
        return f"`{name}` is not a declared security scheme"
    kind = scheme.get("type")
    if kind == "apiKey":
        if scheme.get("in") not in ("header", "query", "cookie") or not scheme.get("name"):
            return f"`{name}` is an apiKey scheme without a usable `in` and `name`"
    elif kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        if http not in ("bearer", "basic"):
            return f"`{name}` uses HTTP `{http}` authentication, which the bridge cannot send"
        if http == "basic" and secret is not None and ":" not in secret:
            return f"`{name}` is HTTP basic: store it as `user:password`"
    elif kind not in ("oauth2", "openIdConnect"):
        return f"`{name}` is a {kind} scheme, which the bridge cannot send"
    if secret is None:
        return f"`{name}` is not set"
    return None


def _place(
    alternative: list[str], schemes: dict[str, dict[str, Any]], secrets: dict[str, str]
) -> Placement:
    placement = Placement()
    for name in alternative:
        scheme, secret = schemes[name], secrets[name]
        if scheme["type"] == "apiKey":
            location, key = scheme["in"], str(scheme["name"])
            if location == "header":
                placement.headers[key] = secret
            elif location == "query":
                placement.query.append((key, secret))
            else:
                placement.cookies[key] = secret
        elif scheme["type"] == "http" and str(scheme["scheme"]).lower() == "basic":
            token = base64.b64encode(secret.encode()).decode()
            placement.headers["Authorization"] = f"Basic {token}"
        else:
            placement.headers["Authorization"] = f"Bearer {secret}"
    return placement
