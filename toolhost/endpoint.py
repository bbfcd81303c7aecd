"""`/mcp` as an ASGI app: the SDK's streamable-HTTP session manager behind bearer auth.

`Host` and `Origin` are checked against `SWITCHBOARD_PUBLIC_URL` (and loopback) first
(`toolhost.origins`), so a page on another site cannot drive a browser's local connection to the
endpoint (DNS rebinding). The SDK's own check compares them as exact strings, refusing the same
site written another way (`https://sb.example.com` for `https://sb.example.com:443`): it is off.

Handshake-era sessions are kept by `toolhost.sessions`: what a session held goes when it ends,
and one caller may hold only so many.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from sqlmodel import select
from starlette.types import ASGIApp

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
from toolhost.authentication import RequireBearer
from toolhost.calls import CallPath
from toolhost.hosted import HostedVersion
from toolhost.notifications import ListChangedNotifier
from toolhost.origins import CheckOrigin
from toolhost.passthrough import PassThrough
from toolhost.replay import RecentEvents, TagSessions
from toolhost.routing import LeaseOwner, SandboxRouter, ToolUnavailableError
from toolhost.server import build_server
from toolhost.sessions import OpenSessions, SessionManager
from toolhost.tasks import TaskRequests
from toolhost.telemetry import Telemetry

SYSTEM_ACTOR = "switchboard"
"""Who the audit log and review history name for what Switchboard does on its own."""
logger = logging.getLogger(__name__)

CHECKED_BEFORE = TransportSecuritySettings(enable_dns_rebinding_protection=False)
"""`Host` and `Origin` are `CheckOrigin`'s; the SDK still checks the `Content-Type`."""


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
            build_server(
                services, self.calls, self.notifier, self.passthrough, TaskRequests(self.calls)
            ),
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
