"""`Host` and `Origin` of `/mcp` requests, checked before anything else (DNS rebinding).

A page on another site can make a browser send requests to a local endpoint, with the page's
`Origin`, or by re-pointing its own name at the endpoint, with its own name in `Host`. Only the
public URL's site and loopback pass. Names compare case-insensitively and a missing port is the
scheme's default, as for any URL: `https://SB.example.com:443` and `https://sb.example.com` are
one origin. This runs before authentication, because the transport spec requires 403 for a
foreign `Origin` whatever the credentials.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
Origin = tuple[str, str, int]
"""Scheme, lower-case host name and port: what makes two origins the same."""


def origin_of(url: str) -> Origin | None:
    """`url`'s origin, or `None` for anything that is not an http(s) URL (`null` included)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def host_name(host: str) -> str | None:
    """The lower-case name in a `Host` header value (the port does not matter here)."""
    return urlsplit("//" + host.strip()).hostname


class CheckOrigin:
    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        public = origin_of(public_url)
        if public is None:
            raise ValueError(f"the public URL {public_url!r} is not an http(s) URL")
        self.public = public
        self.site = "{}://{}".format(*urlsplit(public_url)[:2])
        self.hosts = LOOPBACK | {public[1]}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(Headers(scope=scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers) -> JSONResponse | None:
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            logger.warning("refused a request for host %r", host)
            return JSONResponse(
                {"error": f"this endpoint does not answer to the host {host!r}"}, status_code=421
            )
        origin = headers.get("origin")
        if origin is None:
            return None
        seen = origin_of(origin)
        if seen == self.public or (seen is not None and seen[1] in LOOPBACK):
            return None
        logger.warning("refused a request from origin %r", origin)
        return JSONResponse(
            {
                "error": f"requests from the origin {origin!r} are not allowed; "
                f"only {self.site} and loopback may call this endpoint"
            },
            status_code=403,
        )
