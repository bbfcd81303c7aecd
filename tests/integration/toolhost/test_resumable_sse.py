"""A handshake-era SSE stream resumes with `Last-Event-ID`: the events it missed are sent
again, and only to the session and caller they were first sent to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2

from registry.models import Role
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard

VERSION = "2025-11-25"


@dataclass
class Event:
    id: str | None
    data: str


async def events(response: httpx2.Response, limit: int) -> list[Event]:
    """Up to `limit` SSE events of `response`, fewer if the stream ends first."""
    found: list[Event] = []
    event_id: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and (event_id is not None or data):
            found.append(Event(event_id, "\n".join(data)))
            event_id, data = None, []
            if len(found) == limit:
                break
    return found


class Session:
    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.id = ""

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Accept": "application/json, text/event-stream",
            "Mcp-Protocol-Version": VERSION,
            "Mcp-Session-Id": self.id,
            **extra,
        }

    async def open(self) -> None:
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": VERSION,
                "capabilities": {},
                "clientInfo": {"name": "resume-test", "version": "1"},
            },
        }
        response = await self.http.post(
            self.url, json=initialize, headers={"Accept": "application/json, text/event-stream"}
        )
        assert response.status_code == 200, response.text
        self.id = response.headers["mcp-session-id"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        done = await self.http.post(self.url, json=initialized, headers=self.headers())
        assert done.status_code == 202, done.text

    async def list_tools(self) -> list[Event]:
        request = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        async with self.http.stream(
            "POST", self.url, json=request, headers=self.headers()
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            return await events(response, 2)

    async def resume(self, last_event_id: str) -> list[Event]:
        """What a GET with `Last-Event-ID` replays within a second (the stream then stays
        open for live events, so waiting longer would see nothing more)."""
        headers = self.headers(Accept="text/event-stream", **{"Last-Event-ID": last_event_id})
        async with self.http.stream("GET", self.url, headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            with anyio.move_on_after(1):
                return [e for e in await events(response, 2) if e.data]
        return []


@asynccontextmanager
async def session(server: LiveServer, token: str) -> AsyncIterator[Session]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        opened = Session(http, server.mcp_url)
        await opened.open()
        yield opened


async def test_a_dropped_stream_resumes_for_its_session_only(
    tmp_path: Path, database_url: str
) -> None:
    async with live_switchboard(tmp_path / "data", database_url) as server:
        ada = await user_with_token(server.services, "ada", Role.developer, ["mcp"])
        bob = await user_with_token(server.services, "bob", Role.developer, ["mcp"])
        async with (
            session(server, ada) as first,
            session(server, ada) as second,
            session(server, bob) as other,
        ):
            priming, answer = await first.list_tools()
            assert priming.id is not None
            assert not priming.data
            assert json.loads(answer.data)["id"] == 2

            resumed = await first.resume(priming.id)
            assert [(e.id, json.loads(e.data)) for e in resumed] == [
                (answer.id, json.loads(answer.data))
            ]
            assert await first.resume(str(answer.id)) == []
            assert await first.resume("9" * 5000) == []
            assert await first.resume("not-an-event") == []
            assert await second.resume(priming.id) == []
            assert await other.resume(priming.id) == []


async def test_resuming_can_be_turned_off(tmp_path: Path, database_url: str) -> None:
    async with live_switchboard(tmp_path / "data", database_url, sse_replay_events=0) as server:
        token = await user_with_token(server.services, "ada", Role.developer, ["mcp"])
        async with session(server, token) as opened:
            listed: Any = await opened.list_tools()
            assert [json.loads(e.data)["id"] for e in listed if e.data] == [2]
            assert all(e.id is None for e in listed)
