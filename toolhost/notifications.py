"""`notifications/tools/list_changed` for callers whose set of tools changed, in both eras.

Sessions of the handshake era (2025-06-18, 2025-11-25) are remembered when they list tools and
notified on their standing stream; on 2026-07-28 a client opts in with `subscriptions/listen`,
whose response is the stream. Each is remembered with its caller and what it was shown: each
tool's name and a digest of its definition, so a newly approved version whose tools keep their
names but change a description or schema is a change too. Every approval, rejection,
quarantine, grant and revoke moves the shared catalogue revision (on any replica), so one cheap
read per interval tells whether anything may have changed; only then is each session's set
recomputed, and only sessions whose set really differs are notified.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    SUBSCRIPTION_ID_META_KEY,
    ToolsListChanged,
    event_to_notification,
)

from registry import revision
from registry.visibility import IndexedTool, standing
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import effective_tools
from switchboard.services import Services
from toolhost.authentication import principal_of, usable_tools

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
Shown = frozenset[tuple[str, str]]
"""Each tool a caller was shown: its name and `definition_digest`."""


def definition_digest(tool: IndexedTool) -> str:
    canonical = json.dumps(tool.wire, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Digests:
    """What callers are shown, with each tool's digest worked out once per catalogue revision
    rather than on every `tools/list` and for every watched session. A definition changes only
    with the revision (re-approving a quarantined version records what it now reports), and
    each check that finds a new revision starts afresh, so a change is never missed."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], str] = {}

    def shown(self, tools: Iterable[IndexedTool]) -> Shown:
        return frozenset((tool.name, self._digest(tool)) for tool in tools)

    def _digest(self, tool: IndexedTool) -> str:
        key = (tool.version_id, tool.name)
        if key not in self._known:
            self._known[key] = definition_digest(tool)
        return self._known[key]


@dataclass
class _Watched:
    username: str
    scopes: frozenset[str]
    shown: Shown


@dataclass(eq=False)
class _Listener:
    watched: _Watched
    send: MemoryObjectSendStream[None]


class ListChangedNotifier:
    def __init__(self, services: Services, *, interval: float = POLL_SECONDS) -> None:
        self._services = services
        self._interval = interval
        self._sessions: dict[str, tuple[ServerSession, _Watched]] = {}
        self._digests = Digests()
        self._listeners: set[_Listener] = set()
        self._revision: int | None = None

    def shown(
        self,
        session_id: str,
        session: ServerSession,
        principal: Principal,
        tools: Iterable[IndexedTool],
    ) -> None:
        """Remember what session `session_id` was just shown by `tools/list`."""
        watched = _Watched(principal.username, principal.scopes, self._digests.shown(tools))
        self._sessions[session_id] = (session, watched)

    def ended(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def listen(
        self, ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """`subscriptions/listen` (2026-07-28): acknowledge, then one notification per change
        of the caller's tools until the client closes the stream. Only tool list changes are
        honoured: Switchboard has no other events to send."""
        if ctx.request_id is None or ctx.request is None:
            raise MCPError(types.INVALID_REQUEST, "subscriptions/listen requires a request id")
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: ctx.request_id}
        wanted = bool(params.notifications.tools_list_changed)
        honoured = types.SubscriptionFilter(tools_list_changed=True if wanted else None)
        send, receive = anyio.create_memory_object_stream[None](8)
        listener = None
        if wanted:
            principal = principal_of(ctx.request.scope)
            shown = self._digests.shown(usable_tools(ctx.request.scope).values())
            watched = _Watched(principal.username, principal.scopes, shown)
            listener = _Listener(watched, send)
            self._listeners.add(listener)
        try:
            await ctx.session.send_notification(
                types.SubscriptionsAcknowledgedNotification(
                    params=types.SubscriptionsAcknowledgedNotificationParams(
                        notifications=honoured, _meta=meta
                    )
                ),
                related_request_id=ctx.request_id,
            )
            async for _ in receive:
                await ctx.session.send_notification(
                    event_to_notification(ToolsListChanged(), meta),
                    related_request_id=ctx.request_id,
                )
        finally:
            if listener is not None:
                self._listeners.discard(listener)
            send.close()
            receive.close()
        return types.SubscriptionsListenResult(_meta=meta)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ListChangedNotifier]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch_forever)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()

    async def _watch_forever(self) -> None:
        while True:
            await anyio.sleep(self._interval)
            try:
                await self.check()
            except Exception:
                logger.exception("could not check for tool list changes")

    async def check(self) -> None:
        """Notify every session whose tools differ from what it was last shown."""
        if not self._sessions and not self._listeners:
            return
        async with self._services.sessions() as db:
            current = await revision.current(db)
            if current == self._revision:
                return
            self._revision = current
            self._digests = Digests()
            index = await self._services.catalog.index(db, current)
            watching = [w for _, w in self._sessions.values()]
            watching += [listener.watched for listener in self._listeners]
            users = {watched.username for watched in watching}
            standings = {name: await standing(db, name) for name in users}

        def changed(watched: _Watched) -> bool:
            state = standings.get(watched.username)
            granted = index.visible(state.grants) if state and not state.disabled else []
            shown = self._digests.shown(effective_tools(granted, watched.scopes))
            if shown == watched.shown:
                return False
            watched.shown = shown
            return True

        for session_id, (session, watched) in list(self._sessions.items()):
            if changed(watched):
                await self._notify(session_id, session)
        for listener in list(self._listeners):
            if changed(listener.watched):
                with suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                    listener.send.send_nowait(None)

    async def _notify(self, session_id: str, session: ServerSession) -> None:
        try:
            await session.send_tool_list_changed()
        except Exception as exc:
            logger.info("dropping a session that cannot be notified: %s", exc)
            self._sessions.pop(session_id, None)
