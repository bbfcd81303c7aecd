"""Request guards that hold until sign-in exists: loopback clients and known `Host` names only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(public_url: str) -> list[str]:
    """The public URL's host plus loopback names: a DNS-rebinding page never matches these."""
    host = urlsplit(public_url).hostname or "127.0.0.1"
    return sorted({host, *LOOPBACK_NAMES, "::1"})


class LoopbackClientsOnly:
    """Refuse any client that is not on this machine: nothing here asks who you are yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not _is_loopback(scope.get("client")):
            response = PlainTextResponse(
                "Switchboard accepts connections from this machine only until sign-in is set up",
                status_code=403,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_loopback(client: tuple[str, int] | None) -> bool:
    if client is None:
        return True  # in-process callers (tests, ASGI transports) have no socket
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False
