"""The Node 22 toolchain from scripts/node-tools.sh works: the MCP Inspector CLI, run on it, lists
the tools of a real MCP server over streamable HTTP with a bearer token, and says
`auth_required` (exit code 3) when the server answers 401.

The server is the SDK's streamable HTTP app behind a static bearer check, served by uvicorn in
this process on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.node_tools import NodeTools, node_tools, run_node

TOKEN = "node-tools-test-token"
AUTH_REQUIRED = 3  # the Inspector CLI's exit code for a 401 or 403


def bearer_protected(app: ASGIApp) -> ASGIApp:
    expected = f"Bearer {TOKEN}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            refusal = JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await refusal(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


@pytest.fixture
def tools() -> NodeTools:
    """Installed (or found) before any server starts: a cold install takes half a minute."""
    return node_tools()


@pytest.fixture
async def mcp_url() -> AsyncIterator[str]:
    server = MCPServer("node-tools-check")

    @server.tool()
    def shout(text: str) -> str:
        """Say it louder."""
        return text.upper()

    app = bearer_protected(server.streamable_http_app())
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    http = uvicorn.Server(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        serving = asyncio.create_task(http.serve(sockets=[sock]))
        for _ in range(200):
            if http.started or serving.done():
                break
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()
        assert http.started, "uvicorn did not start"
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            http.should_exit = True
            await serving


async def test_inspector_cli_on_node_22_lists_tools_with_a_bearer_token(
    tools: NodeTools, mcp_url: str, tmp_path: Path
) -> None:
    version = await asyncio.create_subprocess_exec(
        str(tools.node), "--version", stdout=asyncio.subprocess.PIPE
    )
    printed, _ = await version.communicate()
    assert printed.decode().startswith("v22."), printed

    # --stored-auth-only: on a 401, fail at once instead of starting an interactive OAuth login.
    common = [str(tools.inspector_cli), mcp_url, "--transport", "http", "--method", "tools/list"]
    common += ["--stored-auth-only"]
    common += ["--format", "json"]
    listed = await run_node(
        tools,
        tmp_path,
        *common,
        "--header",
        f"Authorization: Bearer {TOKEN}",
    )
    assert listed.code == 0, listed
    listing = json.loads(listed.stdout)["result"]["tools"]
    assert [tool["name"] for tool in listing] == ["shout"]
    assert listing[0]["inputSchema"]["required"] == ["text"]

    refused = await run_node(
        tools,
        tmp_path,
        *common,
        "--header",
        "Authorization: Bearer wrong",
    )
    assert refused.code == AUTH_REQUIRED, refused
    assert refused.stdout == ""
    assert json.loads(refused.stderr)["error"]["code"] == "auth_required"
