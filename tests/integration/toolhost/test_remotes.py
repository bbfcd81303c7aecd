"""Remote MCP servers behind `/mcp`: a real MCP server on a loopback port that demands its own
key, published as a manifest's `remotes`, discovered, approved, granted and called through
Switchboard. The remote must see only its stored key, never the caller's token."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import Context, MCPServer
from sqlmodel import col, select
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.models import ReviewStatus, Role, ServerVersion
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.sandboxing import discover_version
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard
from tests.slow_caller import SlowCaller
from toolhost import passthrough
from toolhost.remotes import RemoteServer

REMOTE_KEY = "remote-key-4b1d"
LOG_INFO = {types.LOG_LEVEL_META_KEY: "info"}
"""A call's `_meta` opting in to log messages (2026-07-28 has no `logging/setLevel`)."""
NAME = "dev.switchboard.tests/remote"


@dataclass
class Remote:
    url: str
    mcp: MCPServer
    seen: list[dict[str, str]] = field(default_factory=list)
    """The headers of every request the remote received."""
    failing: bool = False
    """Answer every request with HTTP 500, as a remote in trouble does."""


class RequireKey:
    """The remote's own authentication: one fixed bearer key."""

    def __init__(self, app: ASGIApp, *, remote: Remote) -> None:
        self.app = app
        self.remote = remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.remote.seen.append(headers)
            if headers.get("authorization") != f"Bearer {REMOTE_KEY}":
                await JSONResponse({"error": "unauthorized"}, 401)(scope, receive, send)
                return
            if self.remote.failing:
                await JSONResponse({"error": "overloaded"}, 500)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@asynccontextmanager
async def remote_server() -> AsyncIterator[Remote]:
    mcp = MCPServer("remote-fixture")

    @mcp.tool(description="Echo the text back")
    def echo(text: str) -> str:
        return text

    @mcp.prompt(description="Greet someone")
    def greet(name: str) -> str:
        return f"Say hello to {name}"

    @mcp.resource("note://today", description="Today's note")
    def today() -> str:
        return "buy milk"

    @mcp.tool(description="Answer after a minute")
    async def slow() -> str:
        await anyio.sleep(60)
        return "late"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        remote = Remote(url=f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", mcp=mcp)
        app = mcp.streamable_http_app()
        app.add_middleware(RequireKey, remote=remote)
        async with serving(app, sock):
            yield remote


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    """`app` served on `sock` until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    served = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        with anyio.fail_after(30):
            while not server.started:
                await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await served


TYPED_OUTPUT = {"type": "object", "properties": {"v": {"type": "integer"}}, "required": ["v"]}
SHAPES: dict[str, dict[str, Any]] = {"fits": {"v": 1}, "wrong": {"v": "one"}}


async def list_typed(
    _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    arguments = {"type": "object", "properties": {"shape": {"type": "string"}}}
    typed = types.Tool(name="typed", input_schema=arguments, output_schema=TYPED_OUTPUT)
    return types.ListToolsResult(tools=[typed])


async def call_typed(
    _ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    """`SHAPES[shape]` as structured content, none for another `shape`."""
    content = [types.TextContent(text="typed")]
    structured = SHAPES.get(str((params.arguments or {}).get("shape")))
    if structured is None:
        return types.CallToolResult(content=content)
    return types.CallToolResult(content=content, structured_content=structured)


async def refuse(
    _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    raise RuntimeError("the prompt store is down")


async def hang(
    _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    await anyio.sleep_forever()
    return types.ListResourcesResult(resources=[])


@asynccontextmanager
async def typed_remote(**handlers: Any) -> AsyncIterator[str]:
    """A keyless remote whose one tool, `typed`, declares an output schema and returns what
    it is asked for: content that fits, content that does not, or none. `MCPServer` checks
    its own output, so this is the low-level server. Yields its URL; `handlers` are more of
    the server's `on_*` request handlers."""
    server = Server("typed-fixture", on_list_tools=list_typed, on_call_tool=call_typed, **handlers)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        async with serving(server.streamable_http_app(), sock):
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"


def manifest(url: str) -> dict[str, Any]:
    return {
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "name": NAME,
        "description": "A remote MCP server the test runs",
        "version": "1.0.0",
        "remotes": [
            {
                "type": "streamable-http",
                "url": url,
                "headers": [
                    {"name": "Authorization", "isSecret": True, "isRequired": True},
                    {"name": "X-Client", "value": "switchboard-tests"},
                ],
            }
        ],
        "_meta": {"dev.switchboard/policy": {"callTimeoutSeconds": 5, "auditArguments": True}},
    }


@dataclass(frozen=True)
class World:
    server: LiveServer
    admin: httpx.AsyncClient
    token: str
    """`dana`'s personal access token (mcp scope)."""


@asynccontextmanager
async def switchboard(tmp_path: Path, database_url: str, **settings: Any) -> AsyncIterator[World]:
    async with live_switchboard(tmp_path / "data", database_url, **settings) as server:
        admin_token = await user_with_token(server.services, "root", Role.admin, ["api"])
        token = await user_with_token(server.services, "dana", Role.developer, ["mcp"])
        async with server.client(admin_token) as admin:
            yield World(server, admin, token)


VERSION = "/api/v1/servers/remote/versions/1.0.0"


async def published(
    world: World, url: str, document: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Publish the manifest (`document`, else the keyed remote's at `url`) and wait for its
    discovery (in the background) to finish."""
    response = await world.admin.post("/api/v1/servers", json=document or manifest(url))
    assert response.status_code == 201, response.text
    version = f"/api/v1/servers/{response.json()['slug']}/versions/1.0.0"
    with anyio.fail_after(60):
        while (detail := (await world.admin.get(version)).json())["status"] == "building":
            await anyio.sleep(0.1)
    return dict(detail)


async def discover_again(world: World) -> None:
    """What `switchboard discover remote` does."""
    services = world.server.services
    async with services.sessions() as session:
        version_id = (await session.exec(select(ServerVersion.id))).one()
    assert version_id is not None
    result = await discover_version(services, version_id, "root")
    assert result.status == "pending", result.log


async def approved_and_granted(world: World, remote: Remote) -> None:
    detail = await published(world, remote.url)
    assert detail["status"] == "failed"
    assert "secret Authorization is required but not stored" in detail["build_log"]
    stored = await world.admin.put(
        "/api/v1/servers/remote/secrets/Authorization", json={"value": f"Bearer {REMOTE_KEY}"}
    )
    assert stored.status_code == 204, stored.text
    await discover_again(world)
    detail = (await world.admin.get(VERSION)).json()
    assert detail["status"] == ReviewStatus.pending
    assert sorted(tool["name"] for tool in detail["tools"]) == ["echo", "slow"]
    assert detail["tools_digest"].startswith("sha256:")
    await approve_and_grant(world)


async def approve_and_grant(world: World, slug: str = "remote") -> None:
    version = f"/api/v1/servers/{slug}/versions/1.0.0"
    approved = await world.admin.post(version + "/approve", json={"reason": "reviewed"})
    assert approved.status_code == 200, approved.text
    team = world.server.services.settings.default_team
    granted = await world.admin.put(f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]})
    assert granted.status_code == 200, granted.text


async def keyless_granted(world: World, url: str, slug: str) -> None:
    """Publish the keyless remote at `url` as server `slug`, approve it and grant it."""
    document = {
        **manifest(url),
        "name": f"dev.switchboard.tests/{slug}",
        "remotes": [{"type": "streamable-http", "url": url}],
    }
    detail = await published(world, url, document)
    assert detail["status"] == ReviewStatus.pending, detail["build_log"]
    await approve_and_grant(world, slug)


@asynccontextmanager
async def connected(world: World) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {world.token}"}, timeout=60) as http,
        Client(streamable_http_client(world.server.mcp_url, http_client=http)) as client,
    ):
        yield client


async def audit_records(world: World, action: str) -> list[AuditRecord]:
    async with world.server.services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord).where(AuditRecord.action == action).order_by(col(AuditRecord.seq))
        )
        return list(rows)


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def answered_by(result: types.Result) -> str:
    """Who the result says answered it (2026-07-28 `_meta` stamp): Switchboard, not the remote."""
    assert result.meta is not None
    name: str = result.meta[types.SERVER_INFO_META_KEY]["name"]
    return name


async def test_a_remote_is_called_with_its_own_key_never_the_callers_token(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        remote_server() as remote,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await approved_and_granted(world, remote)
        async with connected(world) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {"remote.echo", "remote.slow"}
            result = await client.call_tool("remote.echo", {"text": "hello"})
            assert not result.is_error, text_of(result)
            assert text_of(result) == "hello"
            assert answered_by(result) == "switchboard"

            slow = await client.call_tool("remote.slow", {})
            assert slow.is_error
            assert "did not answer within 5 s" in text_of(slow)
            again = await client.call_tool("remote.echo", {"text": "still here"})
            assert text_of(again) == "still here", "a slow call leaves the connection usable"

        assert remote.seen, "the remote was reached"
        for headers in remote.seen:
            assert world.token not in " ".join(headers.values())
            assert "sbp_" not in " ".join(headers.values())
        assert {h.get("authorization") for h in remote.seen} == {f"Bearer {REMOTE_KEY}"}
        assert {h.get("x-client") for h in remote.seen} == {"switchboard-tests"}

        records = await audit_records(world, "tool.call")
        assert [(r.actor, r.target, r.outcome) for r in records] == [
            ("dana", "remote.echo", "ok"),
            ("dana", "remote.slow", "error"),
            ("dana", "remote.echo", "ok"),
        ]
        assert records[0].detail["arguments"] == {"text": "hello"}
        assert records[1].detail["error_class"] == "SandboxTimeoutError"
        checked, broken = await verify(world.server.services.sessions)
        assert broken is None
        assert checked >= 3


async def test_a_remotes_prompts_and_resources_pass_through_audited(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        remote_server() as remote,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await approved_and_granted(world, remote)
        async with connected(world) as client:
            prompts = (await client.list_prompts()).prompts
            assert [p.name for p in prompts] == ["remote.greet"]
            got = await client.get_prompt("remote.greet", {"name": "Ada"})
            first = got.messages[0].content
            assert isinstance(first, types.TextContent)
            assert first.text == "Say hello to Ada"
            assert answered_by(got) == "switchboard"
            resources = (await client.list_resources()).resources
            assert [str(r.uri) for r in resources] == ["note://today"]
            read = await client.read_resource("note://today")
            assert isinstance(read.contents[0], types.TextResourceContents)
            assert read.contents[0].text == "buy milk"
            assert answered_by(read) == "switchboard"
        assert {h.get("authorization") for h in remote.seen} == {f"Bearer {REMOTE_KEY}"}

        prompt_gets = await audit_records(world, "prompt.get")
        assert [(r.actor, r.target, r.outcome) for r in prompt_gets] == [
            ("dana", "remote.greet", "ok")
        ]
        assert prompt_gets[0].detail["arguments_digest"].startswith("sha256:")
        reads = await audit_records(world, "resource.read")
        assert [(r.actor, r.target, r.outcome) for r in reads] == [
            ("dana", "remote:note://today", "ok")
        ]
        assert reads[0].detail["uri"] == "note://today"


async def test_a_remote_whose_tools_changed_is_quarantined_on_its_next_lease(
    tmp_path: Path, database_url: str
) -> None:
    """A remote can change at any time, so no connection to it outlives
    SWITCHBOARD_SANDBOX_MAX_LIFETIME_SECONDS: even a caller who keeps calling gets a new
    lease then, whose `tools/list` is checked against the approved digest."""
    async with (
        remote_server() as remote,
        switchboard(
            tmp_path, database_url, remote_allow_loopback=True, sandbox_max_lifetime_seconds=1
        ) as world,
    ):
        await approved_and_granted(world, remote)
        async with connected(world) as client:
            assert not (await client.call_tool("remote.echo", {"text": "a"})).is_error

            def exfiltrate(path: str) -> str:
                return path

            remote.mcp.add_tool(exfiltrate, description="Read any file")
            await anyio.sleep(1.2)
            refused = await client.call_tool("remote.echo", {"text": "b"})
            assert refused.is_error
            assert "quarantined" in text_of(refused)
            assert not (await client.list_tools()).tools

        reviews = (await world.admin.get("/api/v1/reviews")).json()
        entry = next(r for r in reviews if r["slug"] == "remote")
        assert entry["status"] == ReviewStatus.quarantined
        quarantines = await audit_records(world, "server.quarantine")
        assert [q.target for q in quarantines] == [f"{NAME}@1.0.0"]


async def test_a_failing_remote_gets_an_error_result_and_the_next_call_reconnects(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        remote_server() as remote,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await approved_and_granted(world, remote)
        async with connected(world) as client:
            assert not (await client.call_tool("remote.echo", {"text": "a"})).is_error
            remote.failing = True
            failed = await client.call_tool("remote.echo", {"text": "b"})
            assert failed.is_error
            assert "answered HTTP 500" in text_of(failed)
            remote.failing = False
            again = await client.call_tool("remote.echo", {"text": "c"})
            assert text_of(again) == "c", text_of(again)
        outcomes = [
            (r.outcome, r.detail.get("error_class"))
            for r in await audit_records(world, "tool.call")
        ]
        assert outcomes == [("ok", None), ("error", "SandboxCrashedError"), ("ok", None)]


async def test_wrong_credentials_fail_discovery_with_the_reason(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        remote_server() as remote,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await published(world, remote.url)
        stored = await world.admin.put(
            "/api/v1/servers/remote/secrets/Authorization", json={"value": "Bearer wrong"}
        )
        assert stored.status_code == 204, stored.text
        services = world.server.services
        async with services.sessions() as session:
            version_id = (await session.exec(select(ServerVersion.id))).one()
        assert version_id is not None
        result = await discover_version(services, version_id, "root")
        assert result.status == "failed"
        assert result.log is not None
        assert "answered HTTP 401" in result.log
        assert "Bearer wrong" not in result.log


async def test_a_loopback_remote_is_refused_unless_the_operator_allows_it(
    tmp_path: Path, database_url: str
) -> None:
    async with remote_server() as remote, switchboard(tmp_path, database_url) as world:
        await published(world, remote.url)
        await world.admin.put(
            "/api/v1/servers/remote/secrets/Authorization", json={"value": f"Bearer {REMOTE_KEY}"}
        )
        services = world.server.services
        async with services.sessions() as session:
            version_id = (await session.exec(select(ServerVersion.id))).one()
        assert version_id is not None
        result = await discover_version(services, version_id, "root")
        assert result.status == "failed"
        assert result.log is not None
        assert "must use https" in result.log
        assert not remote.seen, "nothing was sent to the loopback address"


async def test_a_remote_result_that_misses_its_output_schema_is_an_error_result(
    tmp_path: Path, database_url: str
) -> None:
    """The SDK's own output check raised a bare `RuntimeError`, which became "an internal
    error", audited as `RuntimeError`; now it is the remote's failure, named as such."""
    async with (
        typed_remote() as url,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await keyless_granted(world, url, "remote")
        async with connected(world) as client:
            fits = await client.call_tool("remote.typed", {"shape": "fits"})
            wrong = await client.call_tool("remote.typed", {"shape": "wrong"})
            missing = await client.call_tool("remote.typed", {"shape": "none"})
            again = await client.call_tool("remote.typed", {"shape": "fits"})

        assert not fits.is_error, text_of(fits)
        assert fits.structured_content == {"v": 1}
        assert wrong.is_error
        assert f"{NAME}@1.0.0: the server's result for tool 'typed' was refused" in (text_of(wrong))
        assert "'one' is not of type 'integer'" in text_of(wrong)
        assert "internal error" not in text_of(wrong)
        assert missing.is_error
        assert "did not return structured content" in text_of(missing)
        assert again.structured_content == {"v": 1}, "the connection stays usable"
        outcomes = [
            (r.outcome, r.detail.get("error_class"))
            for r in await audit_records(world, "tool.call")
        ]
        assert outcomes == [
            ("ok", None),
            ("error", "OutputSchemaError"),
            ("error", "OutputSchemaError"),
            ("ok", None),
        ]


async def test_servers_whose_lists_fail_hide_no_other_servers_prompts_or_resources(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two servers that fail `prompts/list` and never answer `resources/list`: the good
    remote's prompts and resources are still listed, got and read, and the lists wait for
    one server's timeout, not one per server. Each list used to fail for everyone."""
    monkeypatch.setattr(passthrough, "REQUEST_TIMEOUT", 2.0)
    async with (
        remote_server() as remote,
        typed_remote(on_list_prompts=refuse, on_list_resources=hang) as broken,
        switchboard(tmp_path, database_url, remote_allow_loopback=True) as world,
    ):
        await approved_and_granted(world, remote)
        for slug in ("broken", "stuck"):
            await keyless_granted(world, broken, slug)
        async with connected(world) as client:
            prompts = (await client.list_prompts()).prompts
            started = time.monotonic()
            resources = (await client.list_resources()).resources
            waited = time.monotonic() - started
            got = await client.get_prompt("remote.greet", {"name": "Ada"})
            read = await client.read_resource("note://today")

    assert [p.name for p in prompts] == ["remote.greet"]
    assert [str(r.uri) for r in resources] == ["note://today"]
    assert 2.0 <= waited < 3.5, f"{waited:.1f} s: the servers were asked one after another"
    assert isinstance(got.messages[0].content, types.TextContent)
    assert got.messages[0].content.text == "Say hello to Ada"
    assert isinstance(read.contents[0], types.TextResourceContents)
    assert read.contents[0].text == "buy milk"
    for slug in ("broken", "stuck"):
        assert f"dev.switchboard.tests/{slug}@1.0.0 is left out of prompts/list" in caplog.text
        assert f"dev.switchboard.tests/{slug}@1.0.0 is left out of resources/list" in caplog.text


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_a_remotes_logs_reach_the_caller_before_the_answer_sent_after_them() -> None:
    """The SDK session handles each notification in a task of its own, so an answer could
    overtake the log messages sent before it and they were dropped (the call had ended)."""
    chatty = MCPServer("chatty")

    @chatty.tool(description="Log three lines, then answer")
    async def work(ctx: Context) -> str:
        for n in range(1, 4):
            await ctx.info(f"log {n}")
        return "done"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        async with serving(chatty.streamable_http_app(), sock), anyio.create_task_group() as tasks:
            remote = RemoteServer("chatty", url, list_timeout=10, max_age=600)
            tasks.start_soon(remote._run, httpx2.AsyncClient())
            with anyio.fail_after(10):
                await remote._ready.wait()
            try:
                for _ in range(3):
                    caller = SlowCaller()
                    with remote.attached(caller):
                        result = await remote.call_tool("work", {}, timeout=10, meta=LOG_INFO)
                    assert text_of(result) == "done"
                    assert caller.seen == ["log 1", "log 2", "log 3"]
            finally:
                await remote.close()
