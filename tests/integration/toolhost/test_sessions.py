"""Sandbox leases and MCP sessions: a 2026-07-28 caller gets one sandbox whatever
`Mcp-Session-Id` it sends, and a handshake-era session's own sandbox goes when the session does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.toolhost.conftest import Hosted, HostedFactory
from toolhost.endpoint import Toolhost

pytestmark = pytest.mark.docker

RequestHook = Callable[[httpx2.Request], Awaitable[None]]


@asynccontextmanager
async def connected(world: Hosted, mode: str, *hooks: RequestHook) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {world.token}"},
            timeout=60,
            event_hooks={"request": list(hooks)},
        ) as http,
        Client(streamable_http_client(world.server.mcp_url, http_client=http), mode=mode) as client,
    ):
        yield client


async def made_up_session(request: httpx2.Request) -> None:
    request.headers["Mcp-Session-Id"] = uuid.uuid4().hex


def toolhost_of(world: Hosted) -> Toolhost:
    toolhost: Toolhost = world.server.app.state.toolhost
    return toolhost


def leased(world: Hosted) -> int:
    return toolhost_of(world).router.pool_sizes()["leased"]


async def test_a_modern_caller_gets_one_sandbox_whatever_session_it_names(
    hosted: HostedFactory,
) -> None:
    async with hosted() as world, connected(world, "auto", made_up_session) as client:
        assert client.protocol_version == "2026-07-28"
        for _ in range(4):
            result = await client.call_tool("calculator.evaluate", {"expression": "1 + 1"})
            assert not result.is_error, result
        assert leased(world) == 1
