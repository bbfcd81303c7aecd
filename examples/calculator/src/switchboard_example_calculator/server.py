"""The calculator MCP server: which tools it offers and how they are labelled."""

from __future__ import annotations

import inspect

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from switchboard_example_calculator import __version__, tools

OFFLINE_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

INSTRUCTIONS = """\
Exact arithmetic, unit conversion and descriptive statistics, computed locally.
Prefer `evaluate` over mental arithmetic; it never executes code.
"""


def create_server() -> MCPServer:
    server = MCPServer(
        "switchboard-example-calculator",
        title="Calculator",
        description="Safe arithmetic, unit conversion and statistics.",
        instructions=INSTRUCTIONS,
        version=__version__,
    )
    titled = (
        (tools.evaluate, "Evaluate arithmetic"),
        (tools.convert_units, "Convert units"),
        (tools.list_units, "List supported units"),
        (tools.statistics, "Statistics of a list of numbers"),
    )
    for tool, title in titled:
        # getdoc dedents the docstring, which becomes the description the model reads.
        description = inspect.getdoc(tool)
        server.add_tool(tool, title=title, description=description, annotations=OFFLINE_READ_ONLY)
    return server


def main() -> None:
    """Console entry point: serve over stdio."""
    create_server().run("stdio")
