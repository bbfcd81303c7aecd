"""Resumable SSE on `/mcp` for handshake-era sessions (2025-06-18, 2025-11-25): what each
stream sent is kept a while, so a client whose connection dropped reconnects with
`Last-Event-ID` and gets the rest (a tool's result included) instead of losing it.

The SDK keeps one event store for every session and names a stream by the JSON-RPC id of the
request it answers, which every session reuses (`1`, `2`, ...). So each event is tagged with
the session and caller it was sent to, and a replay sends only the later events of that same
stream, session and caller: an id from anyone else's stream replays nothing. The events are
tool results, so the store is bounded by count, by bytes and by age. It is in memory: a
handshake-era session lives in one process anyway.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mcp.server.streamable_http import (
    MCP_SESSION_ID_HEADER,
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)
from mcp_types import JSONRPCMessage
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolhost.authentication import PRINCIPAL, REQUEST_SCOPE

SESSION_TAG = "switchboard.session_tag"
logger = logging.getLogger(__name__)


@dataclass(eq=False)
class SessionTag:
    """Whose a request's events are. A session's first request learns its session id only
    from its own response, so the tag is filled in then; the session's events, which the SDK
    stores from that request's context, carry this same tag."""

    owner: str | None
    session_id: str | None


class TagSessions:
    """Tags every request with its `SessionTag` before the SDK sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = scope.get(PRINCIPAL)
        session_id = _header(scope, MCP_SESSION_ID_HEADER.encode())
        tag = scope[SESSION_TAG] = SessionTag(
            principal.username if principal is not None else None, session_id
        )
        if session_id is None:
            send = _learning_session(tag, send)
        await self.app(scope, receive, send)


@dataclass(frozen=True, eq=False)
class _Event:
    seq: int
    tag: SessionTag | None
    stream: StreamId
    message: JSONRPCMessage | None
    at: float
    size: int


class RecentEvents(EventStore):
    """The last `capacity` events, together at most `max_bytes` (as JSON), none older than
    `max_age` seconds."""

    def __init__(
        self,
        capacity: int,
        max_age: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events: deque[_Event] = deque()
        self._capacity = capacity
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._bytes = 0
        self._clock = clock
        self._next = 1

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        now = self._clock()
        size = 0 if message is None else len(message.model_dump_json(by_alias=True))
        event = _Event(self._next, _current_tag(), stream_id, message, now, size)
        self._next += 1
        self._events.append(event)
        self._bytes += size
        self._expire(now)
        return str(event.seq)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        self._expire(self._clock())
        asker = _current_tag()
        start = self._find(last_event_id)
        if start is None or asker is None or not _same_session(start.tag, asker):
            logger.info(
                "cannot resume after event %.32r: unknown, expired or not the caller's",
                last_event_id,
            )
            return None
        # A snapshot: the deque may change while `send_callback` awaits.
        later = [
            event
            for event in self._events
            if event.seq > start.seq
            and event.stream == start.stream
            and _same_session(event.tag, asker)
        ]
        for event in later:
            if event.message is not None:
                await send_callback(EventMessage(event.message, str(event.seq)))
        return start.stream

    def _find(self, event_id: EventId) -> _Event | None:
        well_formed = event_id.isascii() and event_id.isdigit() and len(event_id) <= 20
        if not (well_formed and self._events):
            return None
        index = int(event_id) - self._events[0].seq
        return self._events[index] if 0 <= index < len(self._events) else None

    def _expire(self, now: float) -> None:
        events = self._events
        while events and (
            len(events) > self._capacity
            or self._bytes > self._max_bytes
            or now - events[0].at > self._max_age
        ):
            self._bytes -= events.popleft().size


def _same_session(stored: SessionTag | None, asker: SessionTag) -> bool:
    return (
        stored is not None
        and stored.session_id is not None
        and stored.session_id == asker.session_id
        and stored.owner == asker.owner
    )


def _current_tag() -> SessionTag | None:
    scope = REQUEST_SCOPE.get()
    tag: SessionTag | None = scope.get(SESSION_TAG) if scope is not None else None
    return tag


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _learning_session(tag: SessionTag, send: Send) -> Send:
    async def learn(message: Message) -> None:
        if message["type"] == "http.response.start" and tag.session_id is None:
            for key, value in message.get("headers", ()):
                if key.lower() == MCP_SESSION_ID_HEADER.encode():
                    tag.session_id = value.decode("latin-1")
        await send(message)

    return learn
