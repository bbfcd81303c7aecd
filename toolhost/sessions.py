"""Handshake-era MCP sessions: who opened each, how many one caller may hold, and their end.

When a session ends (DELETE, idle expiry, its server task stopping), what it held goes with it:
its sandboxes, its `tools/list_changed` watch, its log level. One caller may have only so many
such sessions open, so no one caller can fill the SDK's session table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.server.lowlevel.server import Server as MCPServer
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import ErrorData, JSONRPCError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolhost.authentication import principal_of
from toolhost.calls import RATE_LIMITED

SessionEnded = Callable[[str], Awaitable[None]]


class SessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager, telling `on_end` of every handshake-era session it forgets.

    The SDK offers no public hook for a session's end. `_discard_session` is its one place
    where a session is forgotten however it ended (DELETE, idle expiry, its server task
    failing or stopping, a refused opening request), so it is the one private method
    overridden. It may run twice for one session (a DELETE, then the task winding down)."""

    def __init__(self, app: MCPServer[Any], on_end: SessionEnded, **options: Any) -> None:
        super().__init__(app, **options)
        self._on_end = on_end

    async def _discard_session(
        self, session_id: str, transport: StreamableHTTPServerTransport
    ) -> None:
        await super()._discard_session(session_id, transport)
        with anyio.CancelScope(shield=True):
            await self._on_end(session_id)


class OpenSessions:
    """Who opened each handshake-era session, and at most `per_caller` open per caller.

    The SDK's session table is shared (`max_sessions`): once one caller filled it, everyone's
    `initialize` got 503 until sessions expired. Over the cap, only that caller gets 429. The
    SDK names a new session only in the `Mcp-Session-Id` header of the response that opens it,
    so it is learnt there; a request opening one counts while in flight, so a burst cannot
    overshoot."""

    def __init__(self, app: ASGIApp, per_caller: int) -> None:
        self.app = app
        self._per_caller = per_caller
        self._callers: dict[str, str] = {}
        self._held: Counter[str] = Counter()
        """Caller -> their sessions open or being opened."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not opens_session(scope):
            await self.app(scope, receive, send)
            return
        caller = principal_of(scope).username
        if self._held[caller] >= self._per_caller:
            await too_many_sessions(caller, self._per_caller)(scope, receive, send)
            return
        self._held[caller] += 1
        opened = False

        async def learn(message: Message) -> None:
            nonlocal opened
            if message["type"] == "http.response.start":
                session_id = Headers(raw=message["headers"]).get(MCP_SESSION_ID_HEADER)
                if session_id is not None:
                    self._callers[session_id] = caller
                    opened = True
            await send(message)

        try:
            await self.app(scope, receive, learn)
        finally:
            if not opened:
                self._give_back(caller)

    def ended(self, session_id: str) -> str | None:
        """Who opened the session that ended; `None` if that was already said."""
        caller = self._callers.pop(session_id, None)
        if caller is not None:
            self._give_back(caller)
        return caller

    def _give_back(self, caller: str) -> None:
        self._held[caller] -= 1
        if self._held[caller] <= 0:
            del self._held[caller]


def too_many_sessions(caller: str, cap: int) -> Response:
    """HTTP 429 with a JSON-RPC error, whose message MCP clients show for a failed
    `initialize`."""
    message = (
        f"`{caller}` has {cap} MCP sessions open, the most one caller may "
        "(SWITCHBOARD_MCP_SESSIONS_PER_CALLER); end sessions you no longer use (HTTP DELETE "
        "with their Mcp-Session-Id) or wait for idle ones to expire "
        "(SWITCHBOARD_MCP_SESSION_IDLE_SECONDS)"
    )
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=RATE_LIMITED, message=message))
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=429,
        media_type="application/json",
    )


def opens_session(scope: Scope) -> bool:
    """Whether the SDK's manager takes the request as opening a handshake-era session: it
    names no session, nor (in `MCP-Protocol-Version`) a revision served without sessions."""
    headers = Headers(scope=scope)
    version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    stateless = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
    return MCP_SESSION_ID_HEADER not in headers and not stateless
