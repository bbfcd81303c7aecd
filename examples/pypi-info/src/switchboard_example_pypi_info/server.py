"""The PyPI MCP server: its tools, their labels, and where it reads its one setting."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from switchboard_example_pypi_info import __version__
from switchboard_example_pypi_info.client import DEFAULT_BASE_URL, PyPIClient
from switchboard_example_pypi_info.tools import PyPITools

BASE_URL_VARIABLE = "PYPI_BASE_URL"

PYPI_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
OFFLINE_READ_ONLY = PYPI_READ_ONLY.model_copy(update={"open_world_hint": False})

INSTRUCTIONS = """\
Answers questions about Python packages from PyPI's JSON API: latest version, metadata,
dependencies, release history, and whether a version satisfies a specifier.
"""


def base_url_from(environ: Mapping[str, str]) -> str:
    """`PYPI_BASE_URL` (a mirror or a test server), else PyPI itself."""
    return environ.get(BASE_URL_VARIABLE, "").strip() or DEFAULT_BASE_URL


def create_server(base_url: str | None = None, timeout: float = 10.0) -> MCPServer:
    """A PyPI server; `base_url` defaults to `$PYPI_BASE_URL`, then `https://pypi.org/pypi`."""
    tools = PyPITools(PyPIClient(base_url or base_url_from(os.environ), timeout=timeout))
    server = MCPServer(
        "switchboard-example-pypi-info",
        title="PyPI info",
        description="Look up Python packages on PyPI.",
        instructions=INSTRUCTIONS,
        version=__version__,
    )
    labelled = (
        (tools.package_info, "Package details", PYPI_READ_ONLY),
        (tools.package_releases, "Package releases", PYPI_READ_ONLY),
        (tools.version_satisfies, "Check a version specifier", OFFLINE_READ_ONLY),
    )
    for tool, title, hints in labelled:
        # getdoc dedents the docstring, which becomes the description the model reads.
        description = inspect.getdoc(tool)
        server.add_tool(tool, title=title, description=description, annotations=hints)
    return server


def main() -> None:
    """Console entry point: serve over stdio."""
    create_server().run("stdio")
