"""An imported OpenAPI version runs in its bridge sandbox against the real tasks API.

The API runs in a hardened container of its own on an internal Docker network that stands for a
company network: its name resolves to a private address there, and only egress proxies join it
(the operator's `SWITCHBOARD_EGRESS_NETWORKS`). The bridge sandbox itself sits on its egress
network alone, so every request goes through the proxy, which lets the private address through
only when the operator's `SWITCHBOARD_EGRESS_PRIVATE_ALLOW` names the host.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import docker
import mcp_types as types
import pytest
from sqlmodel import select

from registry.lookup import get_server
from registry.models import ServerVersion, Tool, pk
from registry.publishing import import_openapi
from registry.secrets import reveal_secrets, set_secret
from registry.teams import ensure_team, ensure_user
from registry.tooldefs import ToolDefinition, definitions_digest
from sandboxes.discovery import launch_for
from sandboxes.images import ImageBuilder, ImageSpec
from sandboxes.runtime import Launch, open_runtime
from sandboxes.sandbox import Sandbox
from switchboard.services import Services
from tests.wheels import build_wheels

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("bridge")]  # module fixtures

ROOT = Path(__file__).parents[3]
SPEC = ROOT / "examples" / "tasks-api" / "openapi.yaml"
API_HOST = "tasks-api.corp.test"
API_PORT = 8081
API_KEY = f"tasks-key-{secrets.token_hex(8)}"
CALLER_TOKEN = "caller-token-that-must-stay-here"
RECORDER = f"""
import hashlib, os, uvicorn
from switchboard_example_tasks_api.app import create_app

app = create_app(api_key=os.environ["TASKS_API_KEY"])

async def recorded(scope, receive, send):
    if scope["type"] == "http":
        auth = [hashlib.sha256(v).hexdigest() for k, v in scope["headers"] if k == b"authorization"]
        seen = (scope["method"], scope["path"], scope["client"][0], ",".join(auth))
        print("seen", *seen, flush=True)
    await app(scope, receive, send)

uvicorn.run(recorded, host="0.0.0.0", port={API_PORT}, access_log=False)
"""


@dataclass
class CorpApi:
    network: str
    container: Any

    def requests(self) -> list[list[str]]:
        lines = self.container.logs(stdout=True, stderr=False).decode().splitlines()
        return [line.split(" ")[1:] for line in lines if line.startswith("seen ")]

    def address(self, container_name: str) -> str:
        network = self.container.client.networks.get(self.network)
        network.reload()
        for endpoint in network.attrs["Containers"].values():
            if endpoint["Name"] == container_name:
                return str(endpoint["IPv4Address"]).split("/")[0]
        raise AssertionError(f"{container_name} is not on {self.network}")


@pytest.fixture(scope="module")
def api_image(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example API installed like any pypi tool image (its wheel offered besides PyPI)."""
    wheels = build_wheels(tmp_path_factory.mktemp("tasks-api-wheel"), SPEC.parent)
    spec = ImageSpec("pypi", "switchboard-example-tasks-api", "0.1.0")
    return ImageBuilder(docker_client, wheelhouse=wheels).ensure(spec).image_id


@pytest.fixture(scope="module")
def corp_api(docker_client: docker.DockerClient, api_image: str) -> Iterator[CorpApi]:
    name = f"sb-test-corp-{uuid.uuid4().hex[:8]}"
    network = docker_client.networks.create(
        name, driver="bridge", internal=True, labels={"dev.switchboard.test": "corp"}
    )
    container = docker_client.containers.create(
        api_image,
        entrypoint=["/usr/bin/tini", "--", "/opt/server/bin/python", "-c", RECORDER],
        command=[],
        environment={"TASKS_API_KEY": API_KEY},
        user="10001:10001",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        read_only=True,
        tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
        mem_limit="256m",
        pids_limit=64,
        network=name,
        networking_config={name: docker_client.api.create_endpoint_config(aliases=[API_HOST])},
        labels={"dev.switchboard.test": "corp"},
    )
    try:
        container.start()
        deadline = time.monotonic() + 60
        while b"Uvicorn running" not in container.logs():
            container.reload()
            assert container.status == "running", container.logs().decode()
            assert time.monotonic() < deadline, container.logs().decode()
            time.sleep(0.2)
        yield CorpApi(name, container)
    finally:
        container.remove(force=True)
        network.remove()


async def imported_tasks(services: Services) -> tuple[Launch, ServerVersion]:
    """Import the example spec as a company API, store its key, and describe its launch."""
    async with services.transaction() as session:
        team = await ensure_team(session, "platform")
        actor = await ensure_user(session, "alice")
        version = await import_openapi(
            session,
            SPEC.read_bytes(),
            source=str(SPEC),
            name="tasks",
            team=team,
            actor=actor,
            base_url=f"http://{API_HOST}:{API_PORT}",
        )
        server = await get_server(session, "tasks")
        await set_secret(session, services.secrets, server, "bearerAuth", API_KEY, actor=actor)
    async with services.sessions() as session:
        stored = await reveal_secrets(session, services.secrets, server)
        tools = (await session.exec(select(Tool).where(Tool.version_id == pk(version)))).all()
    return launch_for(server, version, stored, tools), version


@asynccontextmanager
async def bridge_sandbox(
    target: Launch, corp_api: CorpApi, owner: str, *, private_allow: tuple[str, ...]
) -> AsyncIterator[tuple[Sandbox, str]]:
    """The bridge sandbox, its egress proxy on the company network too; and the proxy."""
    async with open_runtime(
        owner=owner,
        wheelhouse=None,
        pool_size=1,
        idle_timeout=600,
        max_lifetime=3600,
        start_timeout=60,
        egress_private_allow=private_allow,
        egress_networks=(corp_api.network,),
    ) as runtime:
        spec = await runtime.spec(target)
        proxy = spec.profile.network
        assert proxy is not None
        async with await runtime.manager.start(spec) as sandbox:
            yield sandbox, proxy


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def test_tasks_api_through_its_bridge_sandbox(
    services: Services, corp_api: CorpApi, owner: str, docker_client: docker.DockerClient
) -> None:
    target, version = await imported_tasks(services)
    assert version.policy["egress"] == [f"{API_HOST}:{API_PORT}"]
    before = len(corp_api.requests())
    allow = (f"{API_HOST}:{API_PORT}",)
    tag = f"t{uuid.uuid4().hex[:8]}"  # the API outlives this test: find only its own task
    async with bridge_sandbox(target, corp_api, owner, private_allow=allow) as (sandbox, proxy):
        listed = await sandbox.list_tools()
        assert definitions_digest([ToolDefinition(tool=t) for t in listed]) == version.tools_digest

        created = await sandbox.call_tool(
            "createTask", {"body": {"title": "Renew passport", "tags": [tag]}}, timeout=30
        )
        assert not created.is_error, text(created)
        assert created.structured_content is not None
        task_id = created.structured_content["id"]
        assert created.structured_content["title"] == "Renew passport"
        assert json.loads(text(created)) == created.structured_content

        assert sandbox.client is not None
        fetched = await sandbox.client.call_tool(
            "getTask", {"task_id": task_id}, meta={"authorization": f"Bearer {CALLER_TOKEN}"}
        )
        assert fetched.structured_content == created.structured_content

        async with anyio.create_task_group() as tasks:  # one session, concurrent calls
            results: list[types.CallToolResult] = []

            async def list_tagged_tasks() -> None:
                arguments = {"tag": tag, "done": False}
                results.append(await sandbox.call_tool("listTasks", arguments, timeout=30))

            for _ in range(4):
                tasks.start_soon(list_tagged_tasks)
        assert [r.structured_content and r.structured_content["total"] for r in results] == [1] * 4

        missing = await sandbox.call_tool("getTask", {"task_id": 999}, timeout=30)
        assert missing.is_error
        assert text(missing).startswith("HTTP 404 Not Found from GET /tasks/{task_id}: ")
        assert "no task 999" in text(missing)

        attrs = docker_client.api.inspect_container(sandbox.container_id)
        assert set(attrs["NetworkSettings"]["Networks"]) == {proxy}
        assert not any(API_KEY in variable for variable in attrs["Config"]["Env"])
        proxy_address = corp_api.address(proxy)
        corp = docker_client.networks.get(corp_api.network).attrs["IPAM"]["Config"][0]
        proxy_args = docker_client.api.inspect_container(proxy)["Args"]
        assert f"--private-allow={API_HOST}:{API_PORT}" in proxy_args
        assert f"--host-address={corp['Gateway']}" in proxy_args, "the host stays refused"

    seen = corp_api.requests()[before:]
    assert [(method, path) for method, path, *_ in seen] == [
        ("POST", "/tasks"),
        ("GET", f"/tasks/{task_id}"),
        *[("GET", "/tasks")] * 4,
        ("GET", "/tasks/999"),
    ]
    assert {client for _, _, client, _ in seen} == {proxy_address}
    credential = hashlib.sha256(f"Bearer {API_KEY}".encode()).hexdigest()
    assert {authorizations for *_, authorizations in seen} == {credential}
    caller = hashlib.sha256(f"Bearer {CALLER_TOKEN}".encode()).hexdigest()
    assert all(caller not in authorizations for *_, authorizations in seen)


async def test_private_addresses_stay_refused_without_the_operators_setting(
    services: Services, corp_api: CorpApi, owner: str
) -> None:
    target, _ = await imported_tasks(services)
    before = len(corp_api.requests())
    async with bridge_sandbox(target, corp_api, owner, private_allow=()) as (sandbox, _):
        result = await sandbox.call_tool("listTasks", {}, timeout=30)
    assert result.is_error
    assert "(the sandbox's egress proxy refused it, not the API)" in text(result)
    assert f"{API_HOST} resolves to " in text(result)
    assert "a private address" in text(result)
    assert len(corp_api.requests()) == before


PYPI_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "PyPI JSON API", "version": "1"},
    "servers": [{"url": "https://pypi.org"}],
    "paths": {
        "/pypi/{project}/json": {
            "get": {
                "operationId": "projectInfo",
                "parameters": [
                    {
                        "name": "project",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The project's metadata.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"info": {"type": "object"}},
                                }
                            }
                        },
                    }
                },
            }
        }
    },
}


async def test_https_apis_are_reached_through_the_proxy_tunnel(
    services: Services, owner: str
) -> None:
    """A public HTTPS API: CONNECT through the proxy, TLS checked against the host's CA bundle."""
    async with services.transaction() as session:
        version = await import_openapi(
            session,
            json.dumps(PYPI_DOCUMENT).encode(),
            source="pypi.json",
            name="pypi-json",
            team=await ensure_team(session, "platform"),
            actor=await ensure_user(session, "alice"),
        )
        server = await get_server(session, "pypi-json")
        tools = (await session.exec(select(Tool).where(Tool.version_id == pk(version)))).all()
    assert version.policy["egress"] == ["pypi.org"]
    target = launch_for(server, version, {}, tools)
    async with (
        open_runtime(
            owner=owner,
            wheelhouse=None,
            pool_size=1,
            idle_timeout=600,
            max_lifetime=3600,
            start_timeout=60,
        ) as runtime,
        await runtime.manager.start(await runtime.spec(target)) as sandbox,
    ):
        found = await sandbox.call_tool("projectInfo", {"project": "mcp"}, timeout=30)
        absent = {"project": "switchboard-no-such-project"}
        unknown = await sandbox.call_tool("projectInfo", absent, timeout=30)
    assert not found.is_error, text(found)
    assert found.structured_content is not None
    assert found.structured_content["info"]["name"] == "mcp"
    assert unknown.is_error
    assert text(unknown).startswith("HTTP 404 Not Found from GET /pypi/{project}/json")
