"""Real MCP clients against a real Switchboard server, on both databases.

The server is `create_app` under uvicorn on a free loopback port, its public URL given by
`SWITCHBOARD_PUBLIC_URL`. Two servers are published and approved; the default team is granted
one of them with the `read` scope only, so exactly `api.list` and `api.ping` are what a member
may see. Each client must authenticate its own way and list exactly those:

- the `mcp` SDK's OAuth client, from the first 401 to tools/list, with a browser played by httpx;
- pydantic-ai's `MCPToolset` with a personal access token;
- the MCP Inspector CLI on Node 22, with a token, without one and with a revoked one;
- the conformance suite's `authorization` scenarios, with the browser part played by httpx.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl
from pydantic_ai.mcp import MCPToolset

from registry import grants, review
from registry.lookup import get_server
from registry.models import Role
from registry.teams import ensure_team, ensure_user
from tests.conftest import user_with_token
from tests.e2e.conftest import free_port
from tests.e2e.live_server import LiveServer, live_switchboard, sign_in_and_allow
from tests.integration.registry.conftest import make_tool, publish_tools
from tests.node_tools import NodeTools, node_tools, run_node

USER = "dana"
GRANTED = ["api.list", "api.ping"]
AUTH_REQUIRED = 3  # the Inspector CLI's exit code for a 401 or 403
SUBPROCESS_SECONDS = 120


@dataclass(frozen=True)
class World:
    server: LiveServer
    token: str  # dana's personal access token, with the `api` and `mcp` scopes


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    """The running server; dana in the default team, which is granted `api` with `read`."""
    async with live_switchboard(tmp_path / "data", database_url) as server:
        services = server.services
        token = await user_with_token(services, USER, Role.developer, ["api", "mcp"])
        async with services.transaction() as session:
            team = await ensure_team(session, services.settings.default_team)
            dana = await ensure_user(session, USER)
        api_tools = [make_tool("ping"), make_tool("list", "lists", "read")]
        api_tools.append(make_tool("wipe", "wipes", "admin"))
        await publish_tools(services, team, dana, api_tools, name="com.example/api")
        await publish_tools(services, team, dana, [make_tool("leak")], name="com.example/other")
        async with services.transaction() as session:
            await review.approve(session, "api", actor=dana)
            await review.approve(session, "other", actor=dana)
            api = await get_server(session, "api")
            await grants.grant(session, team, api, ["read"], actor=dana)
        yield World(server=server, token=token)


@pytest.fixture
def tools() -> NodeTools:
    """Installed (or found) before any server starts: a cold install takes half a minute."""
    return node_tools()


def browser(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=30)


# --- 1. the mcp SDK's OAuth client -----------------------------------------------------------


@dataclass
class MemoryStorage:
    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class PlayedBrowser:
    """The SDK's redirect and callback handlers, with httpx as the person's browser."""

    http: httpx.AsyncClient
    redirect_uri: str
    opened: list[str] = field(default_factory=list)
    landed: list[str] = field(default_factory=list)

    async def open(self, authorization_url: str) -> None:
        self.opened.append(authorization_url)
        self.landed.append(await sign_in_and_allow(self.http, authorization_url, USER))

    async def callback(self) -> AuthorizationCodeResult:
        landing = self.landed[-1]
        assert landing.startswith(self.redirect_uri + "?"), landing
        query = parse_qs(urlsplit(landing).query)
        assert "error" not in query, query
        return AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query["iss"][0]
        )


async def test_the_sdk_oauth_client_signs_in_and_lists_the_granted_tools(world: World) -> None:
    server = world.server
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    storage = MemoryStorage()
    seen: list[tuple[str, str, int]] = []

    async def record(response: httpx2.Response) -> None:
        seen.append((response.request.method, response.request.url.path, response.status_code))

    async with browser(server) as web:
        person = PlayedBrowser(web, redirect_uri)
        provider = OAuthClientProvider(
            server_url=server.mcp_url,
            client_metadata=OAuthClientMetadata(
                client_name="SDK e2e",
                redirect_uris=[AnyUrl(redirect_uri)],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=person.open,
            callback_handler=person.callback,
        )
        async with (
            httpx2.AsyncClient(
                auth=provider, timeout=30, event_hooks={"response": [record]}
            ) as http,
            Client(streamable_http_client(server.mcp_url, http_client=http)) as client,
        ):
            listed = await client.list_tools()

    assert sorted(tool.name for tool in listed.tools) == GRANTED
    # The whole flow, in order: refused, discovery, registration, the person, the code's exchange.
    assert seen[:5] == [
        ("POST", "/mcp", 401),
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/oauth/register", 201),
        ("POST", "/oauth/token", 200),
    ], seen
    # Then only MCP traffic with the new token: no refusal, no second authorization.
    assert all(path == "/mcp" and status < 400 for _, path, status in seen[5:]), seen
    assert len(person.opened) == 1
    opened = parse_qs(urlsplit(person.opened[0]).query)
    assert person.opened[0].startswith(f"{server.url}/oauth/authorize?")
    assert opened["resource"] == [server.mcp_url]
    assert opened["code_challenge_method"] == ["S256"]
    assert storage.client_info is not None
    assert opened["client_id"] == [storage.client_info.client_id]
    assert storage.tokens is not None
    assert storage.tokens.scope == "mcp"
    assert storage.tokens.refresh_token
    claims = await server.services.tokens.verify(
        storage.tokens.access_token, audiences=(server.mcp_url,)
    )
    assert claims.subject == USER
    assert claims.client_id == storage.client_info.client_id


# --- 2. pydantic-ai ----------------------------------------------------------------------------


async def test_pydantic_ai_toolset_lists_the_granted_tools_with_a_personal_token(
    world: World,
) -> None:
    toolset: MCPToolset[None] = MCPToolset(
        world.server.mcp_url, headers={"Authorization": f"Bearer {world.token}"}
    )
    async with toolset:
        listed = await toolset.list_tools()
    assert sorted(tool.name for tool in listed) == GRANTED

    # A wrong token: the toolset fails to connect, because the server answered 401.
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    async with httpx2.AsyncClient(
        headers={"Authorization": "Bearer sbp_not-a-real-token"},
        event_hooks={"response": [record]},
        timeout=30,
    ) as http:
        stranger: MCPToolset[None] = MCPToolset(world.server.mcp_url, http_client=http)
        with pytest.raises(MCPError):
            async with stranger:
                await stranger.list_tools()
    assert statuses, "the toolset sent nothing"
    assert set(statuses) == {401}, statuses


# --- 3. the MCP Inspector CLI ------------------------------------------------------------------


async def test_inspector_cli_lists_tools_with_a_token_and_is_refused_without(
    tools: NodeTools, world: World, tmp_path: Path
) -> None:
    server = world.server
    api = {"Authorization": f"Bearer {world.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=api, timeout=30) as http:
        created = await http.post(
            "/api/v1/me/tokens", json={"name": "inspector", "scopes": ["mcp"]}
        )
        assert created.status_code == 201, created.text
        inspector_token = created.json()["token"]

        # --stored-auth-only: on a 401, fail at once instead of starting an interactive login.
        common = [str(tools.inspector_cli), server.mcp_url, "--transport", "http"]
        common += ["--method", "tools/list", "--stored-auth-only", "--format", "json"]
        bearer = ["--header", f"Authorization: Bearer {inspector_token}"]

        listed = await run_node(tools, tmp_path, *common, *bearer)
        assert listed.code == 0, listed
        names = sorted(tool["name"] for tool in json.loads(listed.stdout)["result"]["tools"])
        assert names == GRANTED

        anonymous = await run_node(tools, tmp_path, *common)
        assert anonymous.code == AUTH_REQUIRED, anonymous
        assert json.loads(anonymous.stderr)["error"]["code"] == "auth_required"

        revoked = await http.delete(f"/api/v1/me/tokens/{created.json()['id']}")
        assert revoked.status_code == 204, revoked.text
        refused = await run_node(tools, tmp_path, *common, *bearer)
        assert refused.code == AUTH_REQUIRED, refused
        assert refused.stdout == ""
        assert json.loads(refused.stderr)["error"]["code"] == "auth_required"


# --- 4. the conformance suite's authorization scenarios -----------------------------------------


async def follow_to_the_callback(landing: str) -> None:
    """The browser's last step; the suite may print its URL just before it starts listening."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            try:
                await http.get(landing)
                return
            except httpx.ConnectError:
                assert loop.time() < deadline, f"nothing listens at {landing}"
                await asyncio.sleep(0.1)


async def test_conformance_authorization_scenarios_pass(
    tools: NodeTools, world: World, tmp_path: Path
) -> None:
    server = world.server
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"  # what the suite's callback server serves
    results = tmp_path / "conformance"
    async with browser(server) as web:
        registered = await web.post(
            "/oauth/register",
            json={
                "client_name": "conformance",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        )
        assert registered.status_code == 201, registered.text
        client_id = registered.json()["client_id"]

        process = await asyncio.create_subprocess_exec(
            str(tools.node),
            str(tools.conformance_02),
            "authorization",
            "--url",
            server.url,
            "--client-id",
            client_id,
            "--resource",
            server.mcp_url,
            "--port",
            str(port),
            "--output-dir",
            str(results),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1"},
        )
        assert process.stdout is not None
        printed: list[str] = []
        try:
            # The grant scenario prints the URL to open, then waits for the browser's redirect.
            authorization_url = None
            while authorization_url is None:
                line = await asyncio.wait_for(process.stdout.readline(), SUBPROCESS_SECONDS)
                assert line, "the suite ended without asking for a browser:\n" + "".join(printed)
                printed.append(line.decode())
                if line.decode().startswith(f"{server.url}/oauth/authorize?"):
                    authorization_url = line.decode().strip()
            landing = await sign_in_and_allow(web, authorization_url, USER)
            assert landing.startswith(redirect_uri + "?"), landing
            await follow_to_the_callback(landing)
            rest = await asyncio.wait_for(process.stdout.read(), SUBPROCESS_SECONDS)
            printed.append(rest.decode())
            code = await asyncio.wait_for(process.wait(), SUBPROCESS_SECONDS)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    output = "".join(printed)
    assert code == 0, output

    statuses: dict[str, list[str]] = {}
    for checks in results.glob("*/checks.json"):
        for check in json.loads(checks.read_text()):
            statuses.setdefault(check["id"], []).append(check["status"])
    assert statuses.get("authorization-server-metadata") == ["SUCCESS"], output
    assert statuses.get("authorization-code-grant") == ["SUCCESS"], output
    assert {s for found in statuses.values() for s in found} == {"SUCCESS"}, statuses
