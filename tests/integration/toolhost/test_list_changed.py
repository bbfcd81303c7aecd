"""A caller whose tools change hears about it: `notifications/tools/list_changed` on the session
stream (2025-11-25) and on a `subscriptions/listen` stream (2026-07-28)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from registry import grants, review
from registry.lookup import get_server
from registry.models import Role, Team, User
from registry.teams import ensure_team, ensure_user
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard
from tests.integration.registry.conftest import make_tool, publish_tools
from toolhost.endpoint import Toolhost


@dataclass(frozen=True)
class World:
    server: LiveServer
    token: str
    team: Team
    reviewer: User

    async def grant(self) -> None:
        async with self.server.services.transaction() as session:
            api = await get_server(session, "api")
            await grants.grant(session, self.team, api, ["*"], actor=self.reviewer)

    async def revoke(self) -> None:
        async with self.server.services.transaction() as session:
            await grants.revoke(session, self.team, await get_server(session, "api"))


@asynccontextmanager
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    """`api.ping` approved but not yet granted to gus's team."""
    async with live_switchboard(tmp_path / "data", database_url) as server:
        services = server.services
        token = await user_with_token(services, "gus", Role.developer, ["mcp"])
        async with services.transaction() as session:
            team = await ensure_team(session, services.settings.default_team)
            reviewer = await ensure_user(session, "reviewer")
        await publish_tools(services, team, reviewer, [make_tool("ping")])
        async with services.transaction() as session:
            await review.approve(session, "api", actor=reviewer)
        yield World(server, token, team, reviewer)


@asynccontextmanager
async def connected(
    w: World,
    mode: str,
    on_message: Any = None,
    on_request: Callable[[httpx2.Request], Awaitable[None]] | None = None,
) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {w.token}"},
            timeout=30,
            event_hooks={"request": [on_request] if on_request else []},
        ) as http,
        Client(
            streamable_http_client(w.server.mcp_url, http_client=http),
            mode=mode,
            message_handler=on_message,
        ) as client,
    ):
        yield client


async def test_the_session_stream_hears_of_grants_and_revokes(
    tmp_path: Path, database_url: str
) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with world(tmp_path, database_url) as w, connected(w, "legacy", on_message) as client:
        tools_capability = client.server_capabilities.tools
        assert tools_capability is not None
        assert tools_capability.list_changed
        assert (await client.list_tools()).tools == []

        await w.grant()
        with anyio.fail_after(10):
            await changed.wait()
        assert [t.name for t in (await client.list_tools()).tools] == ["api.ping"]

        changed = anyio.Event()
        await w.revoke()
        with anyio.fail_after(10):
            await changed.wait()
        assert (await client.list_tools()).tools == []


async def test_a_new_version_changing_only_a_definition_is_a_change(
    tmp_path: Path, database_url: str
) -> None:
    """Version 2 keeps the tool's name but says something else: the caller must list again, or
    their client keeps showing a model the definition the reviewer replaced."""
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with world(tmp_path, database_url) as w:
        await w.grant()
        async with connected(w, "legacy", on_message) as client:
            [before] = (await client.list_tools()).tools
            assert before.description == "does a thing"

            await publish_tools(
                w.server.services,
                w.team,
                w.reviewer,
                [make_tool("ping", "does another thing")],
                version="2.0.0",
            )
            async with w.server.services.transaction() as session:
                await review.approve(session, "api", actor=w.reviewer)
            with anyio.fail_after(10):
                await changed.wait()
            [after] = (await client.list_tools()).tools
            assert (after.name, after.description) == ("api.ping", "does another thing")


async def test_a_listen_stream_hears_of_grants_and_revokes(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        world(tmp_path, database_url) as w,
        connected(w, "auto") as client,
        client.listen(tools_list_changed=True) as subscription,
    ):
        assert client.protocol_version == "2026-07-28"
        events = aiter(subscription)
        await w.grant()
        with anyio.fail_after(10):
            await anext(events)
        assert [t.name for t in (await client.list_tools()).tools] == ["api.ping"]
        await w.revoke()
        with anyio.fail_after(10):
            await anext(events)
        assert (await client.list_tools()).tools == []


async def test_only_handshake_era_sessions_are_watched_until_they_end(
    tmp_path: Path, database_url: str
) -> None:
    """A 2026-07-28 `tools/list` has no session to notify, whatever `Mcp-Session-Id` it sends:
    remembering each made-up one grew the gateway's memory without bound."""

    async def made_up_session(request: httpx2.Request) -> None:
        request.headers["Mcp-Session-Id"] = uuid.uuid4().hex

    async with world(tmp_path, database_url) as w:
        toolhost: Toolhost = w.server.app.state.toolhost
        async with connected(w, "auto", on_request=made_up_session) as client:
            for _ in range(5):
                await client.list_tools()
        assert toolhost.notifier._sessions == {}

        async with connected(w, "legacy") as client:
            await client.list_tools()
            assert len(toolhost.notifier._sessions) == 1
        with anyio.fail_after(10):
            while toolhost.notifier._sessions:
                await anyio.sleep(0.05)
