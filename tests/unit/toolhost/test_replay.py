"""The event store behind resumable SSE: later events of the same stream, session and caller,
within its count and age bounds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import mcp_types as types
import pytest
from mcp.server.streamable_http import EventMessage
from starlette.types import Message, Receive, Scope, Send

from toolhost.authentication import REQUEST_SCOPE
from toolhost.replay import SESSION_TAG, RecentEvents, SessionTag, TagSessions


def ping(request_id: int) -> types.JSONRPCMessage:
    return types.JSONRPCRequest(jsonrpc="2.0", id=request_id, method="ping")


@contextmanager
def as_caller(owner: str | None, session_id: str | None) -> Iterator[SessionTag]:
    tag = SessionTag(owner, session_id)
    token = REQUEST_SCOPE.set({SESSION_TAG: tag})
    try:
        yield tag
    finally:
        REQUEST_SCOPE.reset(token)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def replayed(store: RecentEvents, after: str) -> tuple[str | None, list[str | None]]:
    sent: list[EventMessage] = []

    async def send(event: EventMessage) -> None:
        sent.append(event)

    stream = await store.replay_events_after(after, send)
    return stream, [e.event_id for e in sent]


async def test_replays_the_later_events_of_the_stream_only() -> None:
    store = RecentEvents(100, 60, 1 << 20)
    with as_caller("ada", "s1"):
        priming = await store.store_event("2", None)
        other_stream = await store.store_event("3", ping(3))
        answer = await store.store_event("2", ping(2))
    with as_caller("ada", "s2"):
        other_session = await store.store_event("2", ping(2))
    with as_caller("ada", "s1"):
        assert await replayed(store, priming) == ("2", [answer])
        assert await replayed(store, answer) == ("2", [])
        assert await replayed(store, other_stream) == ("3", [])
    assert other_session not in (priming, answer)


@pytest.mark.parametrize(("owner", "session_id"), [("bob", "s1"), ("ada", "s2"), (None, None)])
async def test_another_caller_or_session_replays_nothing(
    owner: str | None, session_id: str | None
) -> None:
    store = RecentEvents(100, 60, 1 << 20)
    with as_caller("ada", "s1"):
        priming = await store.store_event("2", None)
        await store.store_event("2", ping(2))
    with as_caller(owner, session_id):
        assert await replayed(store, priming) == (None, [])


async def test_a_session_learns_its_id_after_its_first_events() -> None:
    store = RecentEvents(100, 60, 1 << 20)
    with as_caller("ada", None) as tag:
        priming = await store.store_event("1", None)
        answer = await store.store_event("1", ping(1))
    tag.session_id = "s1"
    with as_caller("ada", "s1"):
        assert await replayed(store, priming) == ("1", [answer])


async def test_old_and_overflowing_events_are_forgotten() -> None:
    clock = Clock()
    store = RecentEvents(3, 60, 1 << 20, clock=clock)
    with as_caller("ada", "s1"):
        first = await store.store_event("1", None)
        ids = [await store.store_event("1", ping(1)) for _ in range(3)]
        assert await replayed(store, first) == (None, [])
        assert await replayed(store, ids[0]) == ("1", ids[1:])
        clock.now = 61
        assert await replayed(store, ids[0]) == (None, [])


async def test_the_oldest_events_go_when_they_take_too_many_bytes() -> None:
    size = len(ping(1).model_dump_json(by_alias=True))
    store = RecentEvents(100, 60, 2 * size)
    with as_caller("ada", "s1"):
        first = await store.store_event("1", None)
        ids = [await store.store_event("1", ping(1)) for _ in range(3)]
        assert await replayed(store, first) == (None, [])
        assert await replayed(store, ids[0]) == (None, [])
        assert await replayed(store, ids[1]) == ("1", ids[2:])
        huge = types.JSONRPCRequest(jsonrpc="2.0", id=9, method="x" * 3 * size)
        assert await replayed(store, await store.store_event("1", huge)) == (None, [])


@pytest.mark.parametrize("event_id", ["", "x", "-1", "999", "1" * 40, "9" * 5000, "\u00b2", "1 "])
async def test_unknown_ids_replay_nothing(event_id: str) -> None:
    store = RecentEvents(10, 60, 1 << 20)
    with as_caller("ada", "s1"):
        await store.store_event("1", None)
        assert await replayed(store, event_id) == (None, [])


async def test_the_first_request_of_a_session_learns_its_id_from_the_response() -> None:
    seen: list[SessionTag] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[SESSION_TAG])
        headers = [(b"content-type", b"text/event-stream"), (b"mcp-session-id", b"s9")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def send(message: Message) -> None:
        pass

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    tagging = TagSessions(app)
    await tagging({"type": "http", "headers": []}, receive, send)
    await tagging({"type": "http", "headers": [(b"mcp-session-id", b"s3")]}, receive, send)
    assert [(t.owner, t.session_id) for t in seen] == [(None, "s9"), (None, "s3")]
