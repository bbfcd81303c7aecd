"""An unauthenticated `/mcp` on loopback, for protocol test suites that cannot send a token.

The MCP conformance suites connect without credentials and call fixed tool names. This listener
(off unless `SWITCHBOARD_TEST_LISTENER` is set, and refused anywhere but loopback by the
settings) serves the same toolhost — the same call path, sandboxes, pinning and audit — to a
fixed caller, `test-listener`, who may use every approved tool of the one server named by
`SWITCHBOARD_TEST_LISTENER_SERVER`, shown under its own names.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from registry.models import Role
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import MCP
from switchboard.services import Services
from toolhost.authentication import GRANTED, PRINCIPAL, REQUEST_SCOPE, REVISION
from toolhost.endpoint import Toolhost
from toolhost.naming import BARE

TEST_ACTOR = "test-listener"
CALLER = Principal(
    username=TEST_ACTOR, user_id=0, role=Role.user, scopes=frozenset({MCP}), via="cli"
)


class TestListenerApp:
    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, app: Starlette) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].rstrip("/") != "/mcp":
            await PlainTextResponse("only /mcp is served here", status_code=404)(
                scope, receive, send
            )
            return
        services: Services = self._app.state.services
        toolhost: Toolhost = self._app.state.toolhost
        slug = services.settings.test_listener_server
        async with services.sessions() as session:
            index = await services.catalog.index(session)
        prefix = f"{slug}."
        scope[PRINCIPAL] = CALLER
        scope[GRANTED] = [
            tool
            for tools in index.by_server.values()
            for tool in tools
            if tool.name.startswith(prefix)
        ]
        scope[REVISION] = index.revision
        scope[BARE] = slug
        scope["app"] = self._app
        REQUEST_SCOPE.set(scope)
        await toolhost.unauthenticated(scope, receive, send)


async def serve_test_listener(app: Starlette, address: str) -> None:
    """Serve the listener until cancelled (it runs beside the app, in its lifespan)."""
    host, _, port = address.rpartition(":")
    config = uvicorn.Config(
        TestListenerApp(app),
        host=host.strip("[]"),
        port=int(port),
        lifespan="off",
        log_level="warning",
        http="h11",
    )
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), int(port)))
        await _QuietServer(config).serve(sockets=[sock])


class _QuietServer(uvicorn.Server):
    """Leaves signals to the main server: this one stops when the app's lifespan ends."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
