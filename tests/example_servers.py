"""The bundled example servers' real tools, listed in-process, under the slugs publishing gives
them (the README's tour imports the tasks API as `tasks`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mcp import Client
from mcp.server.mcpserver import MCPServer
from switchboard_example_calculator.server import create_server as calculator
from switchboard_example_clock.server import create_server as clock
from switchboard_example_pypi_info.server import create_server as pypi_info

from registry.manifest import ParsedManifest, read_manifest
from registry.openapi import load_openapi, tools_from_openapi
from registry.publishing import derive_slug
from registry.tooldefs import ToolDefinition

EXAMPLES = Path(__file__).parents[1] / "examples"
TASKS_OPENAPI = EXAMPLES / "tasks-api" / "openapi.yaml"
TASKS_SLUG = "tasks"
MCP_SERVERS: dict[str, Callable[[], MCPServer]] = {
    "clock": clock,
    "calculator": calculator,
    "pypi-info": pypi_info,
}


def manifest(folder: str) -> ParsedManifest:
    return read_manifest(EXAMPLES / folder / "server.json")


async def mcp_tools(folder: str) -> list[ToolDefinition]:
    async with Client(MCP_SERVERS[folder]()) as client:
        listed = await client.list_tools()
    return [ToolDefinition(tool=tool) for tool in listed.tools]


def tasks_tools() -> list[ToolDefinition]:
    document = load_openapi(TASKS_OPENAPI.read_bytes(), str(TASKS_OPENAPI))
    return tools_from_openapi(document, str(TASKS_OPENAPI)).tools


async def example_tool_names() -> dict[str, set[str]]:
    """`slug -> {tool names}` for every bundled example."""
    names = {
        derive_slug(manifest(folder).manifest.name): {t.name for t in await mcp_tools(folder)}
        for folder in MCP_SERVERS
    }
    names[TASKS_SLUG] = {t.name for t in tasks_tools()}
    return names
