"""CSRF protection for forms: a token bound to the session (or, before sign-in, to a cookie).

Signed-in forms carry the session's token. The sign-in form itself has no session yet, so it
uses the double-submit pattern: a random cookie and the same value in a hidden field. Both
also require a same-origin `Origin` header when the browser sends one.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from switchboard.settings import Settings

FIELD = "csrf_token"
HEADER = "x-csrf-token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What `new_token` makes."""


def pre_session_cookie(settings: Settings) -> str:
    return "__Host-switchboard-csrf" if settings.secure_cookies else "switchboard-csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def pre_session_token(request: Request, settings: Settings) -> str:
    """The browser's pre-session token when it has one, else a new one: a sign-in page opened
    in a second tab (or by an MCP client's authorization) must not void the first tab's form."""
    given = request.cookies.get(pre_session_cookie(settings), "")
    return given if _TOKEN.fullmatch(given) else new_token()


def set_pre_session_cookie(settings: Settings, response: Response, token: str) -> None:
    response.set_cookie(
        pre_session_cookie(settings),
        token,
        max_age=3600,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def same_origin(request: Request, settings: Settings) -> bool:
    """A browser's `Origin` (when sent) must be this service's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    ours = urlsplit(settings.effective_public_url)
    theirs = urlsplit(origin)
    host = request.headers.get("host", "")
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc) or theirs.netloc == host


def matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and secrets.compare_digest(str(expected), str(given))
