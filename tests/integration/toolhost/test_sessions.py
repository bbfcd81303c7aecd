"""Sandbox leases and MCP sessions: a 2026-07-28 caller gets one sandbox whatever
`Mcp-Session-Id` it sends; a handshake-era session's sandbox, list-changed watch and log level
go when the session ends (DELETE, or idle with its client gone)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from tests.integration.toolhost.conftest import Hosted, HostedFactory
from toolhost.endpoint import Toolhost

pytestmark = pytest.mark.docker

RequestHook = Callable[[httpx2.Request], Awaitable[None]]


@asynccontextmanager
async def connected(
    world: Hosted, mode: str, *hooks: RequestHook, terminate_on_close: bool = True
) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {world.token}"},
            timeout=60,
            event_hooks={"request": list(hooks)},
        ) as http,
        Client(
            streamable_http_client(
                world.server.mcp_url, http_client=http, terminate_on_close=terminate_on_close
            ),
            mode=mode,
        ) as client,
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


def held(world: Hosted) -> tuple[int, int, int]:
    """Sandboxes leased, sessions watched for list changes, sessions' log levels kept."""
    toolhost = toolhost_of(world)
    return leased(world), len(toolhost.notifier._sessions), len(toolhost.calls.log_levels)


async def use_a_session(client: Client) -> None:
    await client.list_tools()
    with pytest.warns(MCPDeprecationWarning):
        await client.set_logging_level("info")
    result = await client.call_tool("calculator.evaluate", {"expression": "6 * 7"})
    assert not result.is_error, result


async def released(world: Hosted, within: float) -> None:
    with anyio.fail_after(within):
        while held(world) != (0, 0, 0):
            await anyio.sleep(0.05)


async def test_a_deleted_session_gives_up_its_sandbox_watch_and_log_level(
    hosted: HostedFactory,
) -> None:
    async with hosted() as world:
        async with connected(world, "legacy") as client:
            await use_a_session(client)
            assert held(world) == (1, 1, 1)
        await released(world, within=10)


async def test_an_idle_session_whose_client_left_is_ended(hosted: HostedFactory) -> None:
    async with hosted(mcp_session_idle_seconds=1) as world:
        async with connected(world, "legacy", terminate_on_close=False) as client:
            await use_a_session(client)
            assert held(world) == (1, 1, 1)
        await released(world, within=10)
