"""`tools/call` through `/mcp` into real sandboxes: the whole call path, each refusal and
failure, and the audit record every call leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlmodel import col, select

from registry.models import ReviewStatus, ServerVersion
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from tests.integration.toolhost.conftest import Hosted, HostedFactory
from toolhost.calls import RATE_LIMITED

pytestmark = pytest.mark.docker


@asynccontextmanager
async def connected(world: Hosted) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {world.token}"}, timeout=60) as http,
        Client(streamable_http_client(world.server.mcp_url, http_client=http)) as client,
    ):
        yield client


async def tool_calls(world: Hosted) -> list[AuditRecord]:
    async with world.server.services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord)
            .where(AuditRecord.action == "tool.call")
            .order_by(col(AuditRecord.seq))
        )
        return list(rows)


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_calls_run_in_sandboxes_and_are_audited(hosted: HostedFactory) -> None:
    async with hosted() as world, connected(world) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"calculator.evaluate", "hostile.echo", "hostile.spin"} <= names

        result = await client.call_tool("calculator.evaluate", {"expression": "6 * 7"})
        assert not result.is_error, text_of(result)
        assert "42" in text_of(result)
        assert result.meta is not None
        stamp = result.meta[types.SERVER_INFO_META_KEY]
        assert stamp["name"] == "switchboard", "Switchboard answers, not the hosted server"

        echoed = await client.call_tool("hostile.echo", {"text": "hello"})
        assert not echoed.is_error, text_of(echoed)

        invalid = await client.call_tool("calculator.evaluate", {"expression": 42})
        assert invalid.is_error
        assert "$.expression" in text_of(invalid)

        with pytest.raises(MCPError) as unknown:
            await client.call_tool("calculator.nope", {})
        assert unknown.value.error.code == types.INVALID_PARAMS

        records = await tool_calls(world)
        assert [(r.target, r.outcome) for r in records] == [
            ("calculator.evaluate", "ok"),
            ("hostile.echo", "ok"),
            ("calculator.evaluate", "invalid_arguments"),
        ]
        first, echo, _ = records
        assert first.actor == "dana"
        assert first.detail["arguments_digest"].startswith("sha256:")
        assert "arguments" not in first.detail, "calculator does not allow keeping arguments"
        assert echo.detail["arguments"] == {"text": "hello"}, "hostile's policy keeps them"
        assert first.detail["version"] == "0.1.0"
        checked, broken = await verify(world.server.services.sessions)
        assert broken is None
        assert checked >= 3


async def test_a_hanging_and_a_crashing_server_get_error_results(hosted: HostedFactory) -> None:
    async with hosted() as world, connected(world) as client:
        hung = await client.call_tool("hostile.spin", {})
        assert hung.is_error
        assert "did not answer within 3 s" in text_of(hung)

        crashed = await client.call_tool("hostile.exit_now", {})
        assert crashed.is_error
        assert "stopped" in text_of(crashed)

        again = await client.call_tool("hostile.echo", {"text": "still here"})
        assert not again.is_error, "a new sandbox replaces the broken one"
        outcomes = [
            (r.target, r.outcome, r.detail.get("error_class")) for r in await tool_calls(world)
        ]
        assert outcomes == [
            ("hostile.spin", "error", "SandboxTimeoutError"),
            ("hostile.exit_now", "error", "SandboxCrashedError"),
            ("hostile.echo", "ok", None),
        ]


async def test_a_cancelled_call_is_audited_and_its_busy_server_replaced(
    hosted: HostedFactory,
) -> None:
    """`spin` ignores the cancellation and keeps its server's event loop busy: the next call
    must not wait on that server (and time out) but get a new one."""
    async with hosted() as world, connected(world) as client:
        with anyio.move_on_after(1) as gave_up:
            await client.call_tool("hostile.spin", {})
        assert gave_up.cancelled_caught
        echoed = await client.call_tool("hostile.echo", {"text": "next"})
        assert not echoed.is_error, text_of(echoed)
        with anyio.fail_after(10):
            while len(records := await tool_calls(world)) < 2:
                await anyio.sleep(0.1)
        assert sorted((r.target, r.outcome, r.detail.get("error_class")) for r in records) == [
            ("hostile.echo", "ok", None),
            ("hostile.spin", "cancelled", None),
        ]


async def test_the_result_size_cap_counts_bytes(hosted: HostedFactory) -> None:
    """The echo comes back twice (text and structured content): 600 characters make about
    1,300 bytes in ASCII, and about 2,500 as two-byte `é`s."""
    async with hosted(max_result_bytes=2000) as world, connected(world) as client:
        ascii_ = await client.call_tool("hostile.echo", {"text": "e" * 600})
        assert not ascii_.is_error, text_of(ascii_)
        accented = await client.call_tool("hostile.echo", {"text": "é" * 600})
        assert accented.is_error
        assert "more than the 2000 bytes a result may have" in text_of(accented)
        assert [r.detail.get("error_class") for r in await tool_calls(world)] == [
            None,
            "ResultTooLargeError",
        ]


async def test_a_revoked_grant_stops_the_next_call(hosted: HostedFactory) -> None:
    async with hosted() as world, connected(world) as client:
        assert not (await client.call_tool("hostile.echo", {"text": "a"})).is_error
        team = world.server.services.settings.default_team
        revoked = await world.admin.delete(f"/api/v1/grants/{team}/hostile")
        assert revoked.status_code == 204, revoked.text
        with pytest.raises(MCPError) as refused:
            await client.call_tool("hostile.echo", {"text": "b"})
        assert refused.value.error.code == types.INVALID_PARAMS
        assert refused.value.error.message == "Unknown tool: hostile.echo"
        assert "hostile.echo" not in {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError):
            await client.call_tool("nowhere.echo", {"text": "c"})
        records = await tool_calls(world)
        assert [(r.target, r.outcome, r.detail.get("reason")) for r in records] == [
            ("hostile.echo", "ok", None),
            ("hostile.echo", "denied", "not granted to the caller's teams"),
        ], "a server that does not exist leaves no record"
        assert records[1].actor == "dana"
        assert records[1].detail["error_class"] == "jsonrpc:-32602"


async def test_a_burst_over_the_rate_limit_is_refused_and_audited(hosted: HostedFactory) -> None:
    async with hosted(rate_limit_per_caller=3) as world, connected(world) as client:
        for _ in range(3):
            assert not (await client.call_tool("hostile.echo", {"text": "x"})).is_error
        with pytest.raises(MCPError) as limited:
            await client.call_tool("hostile.echo", {"text": "x"})
        assert limited.value.error.code == RATE_LIMITED
        assert "retry after" in limited.value.error.message
        assert [r.outcome for r in await tool_calls(world)] == ["ok", "ok", "ok", "rejected"]


async def test_a_server_whose_tools_changed_is_quarantined(hosted: HostedFactory) -> None:
    """As if the package had changed its tools after review: the running server no longer
    matches the approved digest, so its version leaves the catalogue for the review queue."""
    async with hosted() as world:
        services = world.server.services
        async with services.transaction() as session:
            version = (
                await session.exec(
                    select(ServerVersion)
                    .where(ServerVersion.version == "0.1.0")
                    .where(col(ServerVersion.tools_digest).is_not(None))
                    .order_by(col(ServerVersion.id))
                )
            ).first()
            assert version is not None
            version.tools_digest = "sha256:" + "0" * 64
            session.add(version)
        async with connected(world) as client:
            refused = await client.call_tool("calculator.evaluate", {"expression": "1+1"})
            assert refused.is_error
            assert "quarantined" in text_of(refused)
            listed = {t.name for t in (await client.list_tools()).tools}
            assert not any(n.startswith("calculator.") for n in listed)
            with pytest.raises(MCPError) as again:
                await client.call_tool("calculator.evaluate", {"expression": "1+1"})
            assert again.value.error.code == types.INVALID_PARAMS
            assert again.value.error.message == (
                "dev.switchboard.examples/calculator@0.1.0 is quarantined: its server's tool "
                "definitions no longer match the approved ones; a security reviewer must review "
                "the change before it can be called again"
            )
        assert [(r.target, r.outcome, r.detail.get("reason")) for r in await tool_calls(world)] == [
            ("calculator.evaluate", "error", None),
            (
                "calculator.evaluate",
                "rejected",
                "dev.switchboard.examples/calculator@0.1.0 is quarantined",
            ),
        ]
        reviews = (await world.admin.get("/api/v1/reviews")).json()
        entry: dict[str, Any] = next(r for r in reviews if r["slug"] == "calculator")
        assert entry["status"] == ReviewStatus.quarantined
        async with services.sessions() as session:
            quarantines = list(
                await session.exec(
                    select(AuditRecord).where(AuditRecord.action == "server.quarantine")
                )
            )
        assert [q.target for q in quarantines] == ["dev.switchboard.examples/calculator@0.1.0"]

        # What the server reports is now on record: approving it again makes the version
        # callable at once, and its next sandbox matches instead of being quarantined again.
        reapproved = await world.admin.post(
            "/api/v1/servers/calculator/versions/0.1.0/approve", json={"reason": "benign"}
        )
        assert reapproved.status_code == 200, reapproved.text
        async with connected(world) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            assert "calculator.evaluate" in listed
            result = await client.call_tool("calculator.evaluate", {"expression": "1+1"})
            assert not result.is_error, text_of(result)
            assert "2" in text_of(result)
        async with services.sessions() as session:
            version = await session.get(ServerVersion, version.id)
            assert version is not None
            assert version.status == ReviewStatus.approved
