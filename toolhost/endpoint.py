"""`/mcp` as an ASGI app: the SDK's streamable-HTTP session manager behind bearer auth.

`Host` and `Origin` are checked against `SWITCHBOARD_PUBLIC_URL` (and loopback), so a page on
another site cannot drive a browser's local connection to the endpoint (DNS rebinding).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from switchboard.services import Services
from switchboard.settings import Settings
from toolhost.authentication import RequireBearer
from toolhost.server import build_server

LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


def transport_security(settings: Settings) -> TransportSecuritySettings:
    public = urlsplit(settings.effective_public_url)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[public.netloc, *LOOPBACK_HOSTS],
        allowed_origins=[f"{public.scheme}://{public.netloc}", *LOOPBACK_ORIGINS],
    )


class Toolhost:
    """Owns the session manager; `running()` must surround serving, as the SDK requires."""

    def __init__(self, services: Services) -> None:
        self.manager = StreamableHTTPSessionManager(
            app=build_server(services),
            security_settings=transport_security(services.settings),
        )
        self.app = RequireBearer(StreamableHTTPASGIApp(self.manager))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield
