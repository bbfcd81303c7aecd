"""The OpenAPI bridge's MCP server in process: a real MCP client on one side, and on the other
the real tasks API app (or a small app misbehaving on purpose) reached through httpx's ASGI
transport instead of the network."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from switchboard_example_tasks_api.app import create_app

from registry.models import ServerVersion, Tool
from registry.openapi import load_openapi, tools_from_openapi
from registry.tooldefs import ToolDefinition, definitions_digest
from sandboxes.bridges.openapi.config import BridgeConfig, BridgeTool
from sandboxes.bridges.openapi.responses import MAX_RESPONSE_BYTES
from sandboxes.bridges.openapi.server import Bridge, build_server, http_client
from sandboxes.discovery import openapi_bridge

SPEC = Path(__file__).parents[3] / "examples" / "tasks-api" / "openapi.yaml"
API_KEY = "tasks-key-0123456789"
SERVER = "dev.switchboard.examples/tasks"


class Recorder:
    """Wraps an app and keeps the Authorization headers of every request it sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.authorizations: list[list[bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.authorizations.append([v for k, v in scope["headers"] if k == b"authorization"])
        await self.app(scope, receive, send)


def tasks_tools() -> tuple[dict[str, Any], list[ToolDefinition]]:
    document = load_openapi(SPEC.read_bytes(), str(SPEC))
    return document, tools_from_openapi(document, str(SPEC)).tools


def tasks_config() -> BridgeConfig:
    document, tools = tasks_tools()
    rows = [
        Tool(
            version_id=1,
            name=tool.name,
            definition=tool.wire(),
            scopes=tool.scopes,
            binding={**(tool.binding or {}), "baseUrl": "http://tasks.example.com"},
        )
        for tool in tools
    ]
    version = ServerVersion(
        id=1, server_id=1, version="0.1.0", document=document, policy={}, published_by_id=1
    )
    return openapi_bridge(SERVER, f"{SERVER}@0.1.0", version, rows)


@asynccontextmanager
async def connected(
    config: BridgeConfig, secrets: dict[str, str], app: ASGIApp
) -> AsyncIterator[Client]:
    http = http_client(config, httpx.ASGITransport(app=app))
    async with http, Client(build_server(Bridge(config, secrets, http))) as client:
        yield client


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.fixture
def api() -> Recorder:
    return Recorder(create_app(api_key=API_KEY))


async def test_lists_exactly_the_stored_tools(api: Recorder) -> None:
    _, tools = tasks_tools()
    async with connected(tasks_config(), {}, api) as client:
        listed = (await client.list_tools()).tools
    assert [t.name for t in listed] == sorted(t.name for t in tools)
    observed = definitions_digest([ToolDefinition(tool=t) for t in listed])
    assert observed == definitions_digest(tools)


async def test_calls_become_requests_with_the_stored_key(api: Recorder) -> None:
    secrets = {"bearerAuth": API_KEY}
    async with connected(tasks_config(), secrets, api) as client:
        created = await client.call_tool(
            "createTask", {"body": {"title": "Water plants", "tags": ["home"]}}
        )
        assert not created.is_error, text(created)
        assert created.structured_content is not None
        task_id = created.structured_content["id"]
        assert json.loads(text(created)) == created.structured_content
        fetched = await client.call_tool("getTask", {"task_id": task_id})
        assert fetched.structured_content == created.structured_content
        listed = await client.call_tool("listTasks", {"tag": "home", "done": False})
        assert listed.structured_content is not None
        assert listed.structured_content["total"] == 1
        deleted = await client.call_tool("deleteTask", {"task_id": task_id})
        assert (deleted.is_error, text(deleted)) == (False, "HTTP 204 No Content")
        missing = await client.call_tool("getTask", {"task_id": 999})
    assert missing.is_error
    assert text(missing).startswith("HTTP 404 Not Found from GET /tasks/{task_id}: ")
    assert "no task 999" in text(missing)
    assert missing.structured_content is None
    assert api.authorizations == [[f"Bearer {API_KEY}".encode()]] * 5


async def test_without_a_stored_secret_nothing_is_sent(api: Recorder) -> None:
    async with connected(tasks_config(), {}, api) as client:
        result = await client.call_tool("listTasks", {})
    assert result.is_error
    assert "needs the secret `oauth2` or `bearerAuth`" in text(result)
    assert api.authorizations == []


async def test_a_wrong_key_is_the_apis_401(api: Recorder) -> None:
    async with connected(tasks_config(), {"oauth2": "wrong-token"}, api) as client:
        result = await client.call_tool("listTasks", {})
    assert result.is_error
    assert text(result).startswith("HTTP 401 Unauthorized from GET /tasks: ")
    assert api.authorizations == [[b"Bearer wrong-token"]]


async def test_unknown_tools_are_invalid_params(api: Recorder) -> None:
    async with connected(tasks_config(), {}, api) as client:
        with pytest.raises(MCPError) as error:
            await client.call_tool("noSuchTool", {})
    assert error.value.code == types.INVALID_PARAMS


def odd_tool(name: str, path: str, **extra: Any) -> BridgeTool:
    definition: dict[str, Any] = {"name": name, "inputSchema": {"type": "object"}}
    if extra.pop("output", False):
        definition["outputSchema"] = {"type": "object"}
    binding: dict[str, Any] = {"method": "GET", "path": path, "parameters": [], "body": None}
    binding |= {"baseUrl": "http://odd.example.com"} | extra
    return BridgeTool(definition, binding, [["key"]])


ODD = BridgeConfig(
    server="com.example/odd",
    tools=(
        odd_tool("echo", "/echo"),
        odd_tool("slow", "/slow"),
        odd_tool("huge", "/huge"),
        odd_tool("html", "/html", output=True),
        odd_tool("list", "/list", output=True, wrapResult=True),
        odd_tool("redirect", "/redirect"),
    ),
    schemes={"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    timeout=0.5,
)
SECRET = "odd-secret-value-42"


async def echo(request: Request) -> Response:
    """Answers 400 with every header it got: an API that quotes the request in its errors."""
    return JSONResponse({"headers": dict(request.headers)}, status_code=400)


async def slow(_: Request) -> Response:
    await anyio.sleep(5)
    return PlainTextResponse("late")


async def huge(_: Request) -> Response:
    return PlainTextResponse("x" * (MAX_RESPONSE_BYTES + 1))


async def html(_: Request) -> Response:
    return Response("<html>maintenance</html>", media_type="text/html")


async def items(_: Request) -> Response:
    return JSONResponse([1, 2], headers={"Set-Cookie": "track=1"})


async def redirect(_: Request) -> Response:
    return Response(status_code=302, headers={"Location": "http://elsewhere.example.com/"})


ODD_APP = Starlette(
    routes=[
        Route("/echo", echo),
        Route("/slow", slow),
        Route("/huge", huge),
        Route("/html", html),
        Route("/list", items),
        Route("/redirect", redirect),
    ]
)


async def test_secrets_are_cut_out_of_what_the_api_echoes() -> None:
    async with connected(ODD, {"key": SECRET}, ODD_APP) as client:
        result = await client.call_tool("echo", {}, meta={"authorization": "Bearer caller-token"})
    assert result.is_error
    assert text(result).startswith("HTTP 400 Bad Request from GET /echo: ")
    echoed = json.loads(text(result).split(": ", 1)[1])["headers"]
    assert echoed["x-key"] == "[redacted]"
    assert "authorization" not in echoed
    assert SECRET not in text(result)
    assert "caller-token" not in text(result)


async def test_slow_apis_time_out_clearly() -> None:
    async with connected(ODD, {"key": SECRET}, ODD_APP) as client:
        with anyio.fail_after(3):
            result = await client.call_tool("slow", {})
    assert result.is_error
    assert text(result) == "the API did not answer GET /slow within 0.5 s"


async def test_oversized_non_json_and_wrapped_answers() -> None:
    async with connected(ODD, {"key": SECRET}, ODD_APP) as client:
        oversized = await client.call_tool("huge", {})
        not_json = await client.call_tool("html", {})
        wrapped = await client.call_tool("list", {})
        again = await client.call_tool("echo", {})
        redirected = await client.call_tool("redirect", {})
    assert oversized.is_error
    assert f"larger than {MAX_RESPONSE_BYTES} bytes" in text(oversized)
    assert not_json.is_error
    assert "is not the JSON object the tool's output schema describes" in text(not_json)
    assert "<html>maintenance</html>" in text(not_json)
    assert (wrapped.is_error, wrapped.structured_content) == (False, {"result": [1, 2]})
    echoed = json.loads(text(again).split(": ", 1)[1])["headers"]
    assert "cookie" not in echoed, "cookies an API sets are never sent back"
    assert redirected.is_error
    assert text(redirected) == (
        "HTTP 302 Found from GET /redirect to http://elsewhere.example.com/ "
        "(redirects are not followed)"
    )


MEMBERS = BridgeConfig(
    server="com.example/projects",
    tools=(
        odd_tool(
            "removeMember",
            "/projects/{project}/members/{member}",
            method="DELETE",
            parameters=[
                {"name": name, "in": "path", "property": name} for name in ("project", "member")
            ],
            baseUrl="https://api.example.com/v1",
        ),
    ),
    schemes=ODD.schemes,
    timeout=0.5,
)


@pytest.mark.parametrize(
    "arguments",
    [
        {"project": "..", "member": "admin"},
        {"project": "..", "member": ".."},
        {"project": "p", "member": "."},
    ],
)
async def test_path_arguments_never_call_another_path(arguments: dict[str, str]) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    http = http_client(MEMBERS, httpx.MockTransport(answer))
    async with http, Client(build_server(Bridge(MEMBERS, {"key": SECRET}, http))) as client:
        refused = await client.call_tool("removeMember", arguments)
        dotted = await client.call_tool("removeMember", {"project": "p.1", "member": "..."})
    assert refused.is_error
    assert "cannot make the path segment" in text(refused)
    assert not dotted.is_error, text(dotted)
    assert [request.url.raw_path for request in sent] == [b"/v1/projects/p.1/members/..."]


def test_config_round_trips_deterministically() -> None:
    config = tasks_config()
    assert BridgeConfig.loads(config.dumps()) == config
    assert (
        hashlib.sha256(config.dumps()).digest() == hashlib.sha256(tasks_config().dumps()).digest()
    )
    assert set(config.schemes) == {"oauth2", "bearerAuth"}
    assert {tuple(map(tuple, t.security)) for t in config.tools} == {(("oauth2",), ("bearerAuth",))}
    assert config.timeout == 28.0
