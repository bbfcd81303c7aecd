"""One caller cannot fill the session table: past `SWITCHBOARD_MCP_SESSIONS_PER_CALLER` open
handshake-era sessions, only that caller's `initialize` is refused, and a session they end
makes room again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from registry.models import Role
from tests.conftest import user_with_token
from tests.e2e.live_server import INITIALIZE, LiveServer, live_switchboard
from toolhost.calls import RATE_LIMITED


@asynccontextmanager
async def session(server: LiveServer, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(server.mcp_url, http_client=http), mode="legacy") as client,
    ):
        yield client


async def test_only_the_caller_over_the_cap_is_refused(tmp_path: Path, database_url: str) -> None:
    async with live_switchboard(tmp_path / "data", database_url, mcp_sessions_per_caller=2) as sb:
        mallory = await user_with_token(sb.services, "mallory", Role.developer, ["mcp"])
        erin = await user_with_token(sb.services, "erin", Role.developer, ["mcp"])
        async with AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(session(sb, mallory))

            over_the_cap = pytest.RaisesExc(
                MCPError,
                match="SWITCHBOARD_MCP_SESSIONS_PER_CALLER",
                check=lambda exc: exc.error.code == RATE_LIMITED,
            )
            with pytest.RaisesGroup(over_the_cap, flatten_subgroups=True):
                async with session(sb, mallory):
                    pass

            async with sb.client(mallory) as http:
                raw = await http.post(
                    "/mcp",
                    json=INITIALIZE,
                    headers={"Accept": "application/json, text/event-stream"},
                )
            assert raw.status_code == 429
            assert raw.json()["error"]["message"].startswith("`mallory` has 2 MCP sessions open")

            async with session(sb, erin) as client:
                assert (await client.list_tools()).tools == []

        async with session(sb, mallory) as client:
            assert (await client.list_tools()).tools == []
