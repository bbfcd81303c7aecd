"""Over stdio, as a Switchboard sandbox runs it, the conformance fixture serves both protocol eras:
it asks the client mid-call on the handshake wire and with `InputRequiredResult` on 2026-07-28,
and the SDK's own client answers either way through the same callbacks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext

FIXTURE_SOURCE = Path(__file__).parents[2] / "fixtures" / "conformance_server" / "src"
SERVER = StdioServerParameters(
    command=sys.executable,
    args=["-m", "switchboard_conformance_fixture"],
    env={**os.environ, "PYTHONPATH": str(FIXTURE_SOURCE)},
)
ANSWERS = {"name": "Ada", "color": "green", "username": "ada", "email": "ada@example.com"}


async def model(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    text = types.TextContent(type="text", text="Paris")
    return types.CreateMessageResult(role="assistant", content=text, model="test-model")


async def user(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content=ANSWERS)


async def roots(context: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///work", name="work")])


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result.content
    (block,) = result.content
    assert isinstance(block, types.TextContent)
    return block.text


def client(mode: str) -> Client:
    return Client(
        SERVER,
        mode=mode,
        sampling_callback=model,
        elicitation_callback=user,
        list_roots_callback=roots,
        read_timeout_seconds=30,
    )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_fixture_asks_the_client_over_stdio_in_either_era(mode: str) -> None:
    async with client(mode) as session:
        listed = {tool.name for tool in (await session.list_tools()).tools}
        sampled = await session.call_tool("test_sampling", {"prompt": "Capital of France?"})
        greeted = await session.call_tool("test_input_required_result_elicitation")
        counted = await session.call_tool("test_input_required_result_list_roots")
        text = await session.read_resource("test://template/7/data")

    assert {"test_simple_text", "test_sampling", "json_schema_2020_12_tool", "greet"} <= listed
    assert text_of(sampled) == "LLM response: Paris"
    assert text_of(greeted) == "Hello, Ada!"
    assert text_of(counted) == "The client shares 1 root(s): file:///work"
    assert text.contents[0].uri == "test://template/7/data"


async def test_on_2026_07_28_multi_round_state_survives_each_round_over_stdio() -> None:
    async with client("2026-07-28") as session:
        result = await session.call_tool("test_input_required_result_multi_round")
    assert text_of(result) == "Ada likes green."


async def test_on_the_handshake_wire_logs_and_progress_reach_the_client_over_stdio() -> None:
    logged: list[str] = []
    reported: list[float] = []

    async def log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(str(params.data))

    async def report(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    async with Client(SERVER, mode="legacy", logging_callback=log) as session:
        await session.call_tool("test_tool_with_logging")
        await session.call_tool("test_tool_with_progress", progress_callback=report)

    assert logged == ["Tool execution started", "Tool processing data", "Tool execution completed"]
    assert reported == [0, 50, 100]
