"""`/mcp` as an ASGI app: the SDK's streamable-HTTP session manager behind bearer auth.

`Host` and `Origin` are checked against `SWITCHBOARD_PUBLIC_URL` (and loopback) first
(`toolhost.origins`), so a page on another site cannot drive a browser's local connection to the
endpoint (DNS rebinding). The SDK's own check compares them as exact strings, refusing the same
site written another way (`https://sb.example.com` for `https://sb.example.com:443`): it is off.

When a handshake-era session ends (DELETE, idle expiry, its server task stopping), what it held
goes with it: its sandboxes, its `tools/list_changed` watch, its log level. One caller may have
only so many such sessions open, so no one caller can fill the SDK's session table.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.lowlevel.server import Server as MCPServer
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import ErrorData, JSONRPCError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from sqlmodel import select
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.models import Server, ServerVersion, Tool
from registry.quarantine import quarantine, summary
from registry.secrets import reveal_secrets
from registry.teams import ensure_user
from registry.tooldefs import ToolDefinition
from sandboxes.discovery import launch_for
from sandboxes.runtime import DockerUnavailableError, Launch, SandboxRuntime
from switchboard.audit.log import Event
from switchboard.audit.writer import AuditWriter
from switchboard.sandboxing import LazyRuntime, lazy_runtime, remote_connector
from switchboard.services import Services
from toolhost.authentication import RequireBearer, principal_of
from toolhost.calls import RATE_LIMITED, CallPath
from toolhost.hosted import HostedVersion
from toolhost.notifications import ListChangedNotifier
from toolhost.origins import CheckOrigin
from toolhost.passthrough import PassThrough
from toolhost.replay import RecentEvents, TagSessions
from toolhost.routing import LeaseOwner, SandboxRouter, ToolUnavailableError
from toolhost.server import build_server
from toolhost.telemetry import Telemetry

SYSTEM_ACTOR = "switchboard"
"""Who the audit log and review history name for what Switchboard does on its own."""
logger = logging.getLogger(__name__)

CHECKED_BEFORE = TransportSecuritySettings(enable_dns_rebinding_protection=False)
"""`Host` and `Origin` are `CheckOrigin`'s; the SDK still checks the `Content-Type`."""
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


class Toolhost:
    """Owns the session manager, the sandbox router and the audit writer; `running()` must
    surround serving."""

    def __init__(self, services: Services, telemetry: Telemetry) -> None:
        self.services = services
        self.telemetry = telemetry
        self.audit = AuditWriter(services.settings.effective_database_url)
        self._runtime: LazyRuntime | None = None
        self.router = SandboxRouter(
            self._sandbox_runtime,
            self._launch,
            self._quarantine,
            remotes=remote_connector(services.settings),
            idle_seconds=services.settings.sandbox_idle_seconds,
            per_caller=services.settings.sandbox_leases_per_caller,
        )
        self.calls = CallPath(services, self.router, self.audit, telemetry)
        self.passthrough = PassThrough(self.calls)
        self.notifier = ListChangedNotifier(services)
        settings = services.settings
        events = None
        if settings.sse_replay_events:
            events = RecentEvents(
                settings.sse_replay_events, settings.sse_replay_seconds, settings.sse_replay_bytes
            )
        self.manager = SessionManager(
            build_server(services, self.calls, self.notifier, self.passthrough),
            self._session_ended,
            event_store=events,
            security_settings=CHECKED_BEFORE,
            max_request_body_size=settings.max_request_bytes,
            session_idle_timeout=settings.mcp_session_idle_seconds,
        )
        self.sessions = OpenSessions(
            StreamableHTTPASGIApp(self.manager), settings.mcp_sessions_per_caller
        )
        sessions: ASGIApp = self.sessions
        if events is not None:
            sessions = TagSessions(sessions)
        public_url = settings.effective_public_url
        self.unauthenticated = CheckOrigin(sessions, public_url)
        """For the loopback test listener only (`toolhost/test_listener.py`)."""
        self.app = CheckOrigin(RequireBearer(sessions), public_url)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with (
            lazy_runtime(self.services.settings) as runtime,
            self.audit.running(),
            self.router.running(),
            self.notifier.running(),
            self.manager.run(),
        ):
            self._runtime = runtime
            self.telemetry.pool_sizes(self.router.pool_sizes)
            yield

    async def _session_ended(self, session_id: str) -> None:
        """Give up at once what the session held, rather than after `sandbox_idle_seconds`
        (its sandboxes) or never (its list-changed watch, log level and resource URIs)."""
        self.notifier.ended(session_id)
        caller = self.sessions.ended(session_id)
        if caller is None:
            return
        owner = LeaseOwner(caller, session_id)
        self.calls.log_levels.pop(owner, None)
        self.passthrough.forget(owner)
        await self.router.end_owner(owner)

    async def _sandbox_runtime(self) -> SandboxRuntime:
        if self._runtime is None:
            raise ToolUnavailableError("the toolhost is not running")
        try:
            return await self._runtime.get()
        except DockerUnavailableError as exc:
            raise ToolUnavailableError(str(exc)) from exc

    async def _launch(self, hosted: HostedVersion) -> Launch:
        async with self.services.sessions() as session:
            server = await session.get(Server, hosted.server_id)
            version = await session.get(ServerVersion, hosted.version_id)
            if server is None or version is None:
                raise ToolUnavailableError(f"{hosted.label} no longer exists")
            secrets = await reveal_secrets(session, self.services.secrets, server)
            tools = (await session.exec(select(Tool).where(Tool.version_id == version.id))).all()
        return launch_for(server, version, secrets, tools)

    async def _quarantine(self, hosted: HostedVersion, observed: list[ToolDefinition]) -> None:
        """Take the version out of the catalogue, into the review queue, and into the audit log."""
        async with self.services.transaction() as session:
            actor = await ensure_user(session, SYSTEM_ACTOR)
            version = await session.get(ServerVersion, hosted.version_id)
            diff = None
            if version is not None:
                diff = await quarantine(session, version, observed, actor=actor)
        logger.warning("quarantined %s: its tools/list changed since review", hosted.label)
        await self.audit.write(
            Event(
                actor=SYSTEM_ACTOR,
                action="server.quarantine",
                outcome="quarantined",
                target=hosted.label,
                detail={
                    "server": hosted.slug,
                    "version": hosted.version,
                    "reason": summary(diff) if diff else "already out of the catalogue",
                },
            )
        )
