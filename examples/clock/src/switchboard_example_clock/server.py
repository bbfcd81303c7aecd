"""The clock MCP server: which tools it offers and how they are labelled."""

from __future__ import annotations

import inspect

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from switchboard_example_clock import __version__
from switchboard_example_clock.tools import ClockTools, Now, utc_now

OFFLINE_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

INSTRUCTIONS = """\
Time and calendar tools that work offline from the IANA timezone database.
Timezones are IANA names such as `Europe/Paris`; use `find_timezones` to look one up by city.
"""


def create_server(now: Now = utc_now) -> MCPServer:
    """A clock server; pass `now` to pin the current time (tests do)."""
    tools = ClockTools(now)
    server = MCPServer(
        "switchboard-example-clock",
        title="Clock",
        description="Current time, timezone conversion, durations and business days.",
        instructions=INSTRUCTIONS,
        version=__version__,
    )
    titled = (
        (tools.current_time, "Current time in a timezone"),
        (tools.convert_time, "Convert a time between timezones"),
        (tools.time_difference, "Time between two moments"),
        (tools.business_days, "Business days between two dates"),
        (tools.find_timezones, "Find a timezone by name"),
    )
    for tool, title in titled:
        # getdoc dedents the docstring, which becomes the description the model reads.
        description = inspect.getdoc(tool)
        server.add_tool(tool, title=title, description=description, annotations=OFFLINE_READ_ONLY)
    return server


def main() -> None:
    """Console entry point: serve over stdio."""
    create_server().run("stdio")
