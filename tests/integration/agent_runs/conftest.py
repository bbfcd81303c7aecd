"""A live Switchboard whose calculator (read-only tools) and hostile fixture (tools without
annotations, so every call needs approval) are approved and granted to the default team, with
agents published on them and a scripted model (`FunctionModel`) in place of the routed one."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agents.publishing import publish_agent
from agents.runs.engine import RunEngine
from agents.runs.model_seam import Attribution
from agents.spec import agent_from_dict
from registry.models import Role
from registry.teams import ensure_user, get_team
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard
from tests.integration.toolhost.conftest import (  # noqa: F401  (fixture)
    HOSTILE_MANIFEST,
    publish_and_approve,
    toolhost_wheels,
)

ROOT = Path(__file__).parents[3]
Script = Callable[[list[ModelMessage], AgentInfo], Any]


def agent_document(name: str, **block: Any) -> dict[str, Any]:
    return {
        "name": name,
        "instructions": "Help with arithmetic and echoes.",
        "switchboard": {
            "title": name.title(),
            "summary": "A test agent",
            "version": "1.0.0",
            "prompt": "Work out {expression}. PIN {pin}.",
            "questions": [
                {"key": "expression", "label": "Expression"},
                {"key": "pin", "label": "PIN", "sensitive": True, "required": False},
            ],
            "tools": ["calculator", "hostile.echo"],
            **block,
        },
    }


@dataclass
class World:
    server: LiveServer
    admin: httpx.AsyncClient
    user: httpx.AsyncClient
    """`uma`, a user in the default team, with an `api` token."""
    script: list[Script]
    """The model's behaviour: the last script set answers every request."""

    @property
    def engine(self) -> RunEngine:
        engine: RunEngine = self.server.app.state.runs
        return engine

    def model(self, function: Script) -> None:
        self.script.append(function)

    async def launch(self, agent: str, answers: dict[str, Any]) -> dict[str, Any]:
        response = await self.user.post(f"/api/v1/agents/{agent}/runs", json={"answers": answers})
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def wait(
        self, run_id: str, *statuses: str, client: httpx.AsyncClient | None = None
    ) -> dict[str, Any]:
        http = client or self.user
        with anyio.fail_after(120):
            while True:
                run = (await http.get(f"/api/v1/runs/{run_id}")).json()
                if run["status"] in statuses:
                    return dict(run)
                await anyio.sleep(0.1)

    async def events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's whole event stream (server-sent events) as (kind, data) dicts."""
        return await read_events(self.user, run_id)


async def read_events(
    http: httpx.AsyncClient, run_id: str, last_event_id: int | None = None
) -> list[dict[str, Any]]:
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    events: list[dict[str, Any]] = []
    kind = ""
    with anyio.fail_after(120):
        async with http.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind != "end":
                    events.append({"kind": kind, **json.loads(line.removeprefix("data: "))})
    return events


def scripted(world_script: list[Script]) -> Callable[[str, Attribution], Model]:
    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answer = world_script[-1](messages, info)
        if not isinstance(answer, ModelResponse):
            answer = await answer
        return answer

    return lambda alias, attribution: FunctionModel(respond)


async def publish(server: LiveServer, document: dict[str, Any]) -> None:
    services = server.services
    async with services.transaction() as session:
        await publish_agent(
            session,
            agent_from_dict(document),
            team=await get_team(session, services.settings.default_team),
            actor=await ensure_user(session, "root"),
        )


WorldFactory = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
def world(tmp_path: Path, database_url: str, toolhost_wheels: Path) -> WorldFactory:  # noqa: F811
    """`async with world(publish=True) as w:`; a second `world(publish=False)` on the same data
    is the same Switchboard restarted."""
    owner = f"test-{uuid.uuid4().hex[:10]}"

    @asynccontextmanager
    async def open_world(*, publish_servers: bool = True, **overrides: Any) -> AsyncIterator[World]:
        async with live_switchboard(
            tmp_path / "data",
            database_url,
            wheelhouse=toolhost_wheels,
            sandbox_owner=owner,
            **overrides,
        ) as server:
            services = server.services
            tokens = tmp_path / "tokens.json"
            if publish_servers:
                saved = {
                    "root": await user_with_token(services, "root", Role.admin, ["api"]),
                    "uma": await user_with_token(services, "uma", Role.user, ["api"]),
                }
                tokens.write_text(json.dumps(saved))
            saved = json.loads(tokens.read_text())
            script: list[Script] = []
            server.app.state.runs.model_for = scripted(script)
            async with (
                httpx.AsyncClient(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {saved['root']}"},
                    timeout=60,
                ) as admin,
                httpx.AsyncClient(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {saved['uma']}"},
                    timeout=60,
                ) as user,
            ):
                if publish_servers:
                    calculator = json.loads(
                        (ROOT / "examples" / "calculator" / "server.json").read_text()
                    )
                    for manifest in (calculator, HOSTILE_MANIFEST):
                        slug = await publish_and_approve(admin, manifest)
                        granted = await admin.put(
                            f"/api/v1/grants/{services.settings.default_team}/{slug}",
                            json={"scopes": ["*"]},
                        )
                        assert granted.status_code == 200, granted.text
                    await publish(server, agent_document("helper"))
                yield World(server, admin, user, script)

    return open_world
