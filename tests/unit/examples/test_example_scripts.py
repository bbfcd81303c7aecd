"""Each example's console script really serves MCP over stdio, as a sandbox would run it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

SCRIPTS = Path(sys.executable).parent

EXPECTED = {
    "switchboard-example-clock": ("current_time", {"timezone": "UTC"}),
    "switchboard-example-calculator": ("evaluate", {"expression": "6 * 7"}),
    "switchboard-example-pypi-info": ("version_satisfies", {"version": "1.0", "specifier": ">=1"}),
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
async def test_console_script_serves_over_stdio(script: str) -> None:
    tool, arguments = EXPECTED[script]
    # An unreachable index: the tool called here must not need the network.
    parameters = StdioServerParameters(
        command=str(SCRIPTS / script), env={"PYPI_BASE_URL": "http://127.0.0.1:9/pypi"}
    )

    async with Client(parameters) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, arguments)

    assert tool in names
    assert not result.is_error
    assert result.structured_content
