"""The run engine on its own (no tools, so no sandboxes): whom a run's model calls are charged
to, and what it does with a stored document it must not run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import update
from sqlmodel import col

from agents.publishing import publish_agent
from agents.runs import launch
from agents.runs.engine import RunEngine
from agents.runs.model_seam import Attribution
from agents.runs.tables import AgentRun, RunStatus
from agents.spec import agent_from_dict
from agents.tables import AgentVersionRecord
from registry.teams import add_member, ensure_team, ensure_user, get_team
from switchboard.audit.log import Event
from switchboard.services import Services

DOCUMENT = {
    "name": "summer",
    "instructions": "Add up.",
    "switchboard": {"title": "Summer", "summary": "Adds", "version": "1.0.0", "prompt": "Go"},
}


async def no_audit(_: Event) -> None:
    return None


def answering(charged: list[Attribution]) -> Callable[[str, Attribution], Model]:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("done")])

    def model_for(alias: str, who: Attribution) -> Model:
        charged.append(who)
        return FunctionModel(answer)

    return model_for


@asynccontextmanager
async def engine(services: Services) -> AsyncIterator[tuple[RunEngine, list[Attribution]]]:
    """Entered in the test itself: the engine's task group must be left by the task that
    entered it."""
    charged: list[Attribution] = []
    runs = RunEngine(services, audit=no_audit, model_for=answering(charged))
    async with runs.running():
        yield runs, charged


async def launched(services: Services, username: str, *teams: str) -> str:
    async with services.transaction() as session:
        user = await ensure_user(session, username)
        for team in teams:
            await add_member(session, await ensure_team(session, team), user)
        owner = await get_team(session, services.settings.default_team)
        published = await publish_agent(
            session, agent_from_dict(DOCUMENT), team=owner, actor=await ensure_user(session, "root")
        )
        assert published.version.id is not None
    async with services.transaction() as session:
        run = await launch.launch(
            session,
            services.secrets,
            services.catalog,
            username=username,
            agent="summer",
            raw_answers={},
        )
        return run.run.id


async def finished(services: Services, run_id: str) -> AgentRun:
    with anyio.fail_after(20):
        while True:
            async with services.sessions() as session:
                run = await session.get(AgentRun, run_id)
            assert run is not None
            if run.status not in (RunStatus.queued, RunStatus.running):
                return run
            await anyio.sleep(0.05)


@pytest.mark.parametrize(
    ("teams", "team"),
    [
        (("default", "research"), "research"),
        (("data", "default"), "data"),
        (("default",), "default"),
        (("default", "research", "sales"), "default"),
    ],
)
async def test_a_run_is_charged_to_the_team_v1_would_charge(
    services: Services, teams: Any, team: str
) -> None:
    """`/v1` charges a user's one team besides the default team (else the default team); runs
    were charged to the first team name in alphabetical order, often `default`, so a team's
    budget and limits did not hold for its members' agent runs."""
    run_id = await launched(services, "uma", *teams)
    async with engine(services) as (runs, charged):
        runs.kick()
        done = await finished(services, run_id)
    assert done.status == RunStatus.succeeded, done.reason
    assert [(who.user, who.team) for who in charged] == [("uma", team)]


async def test_a_stored_document_with_a_capability_past_switchboard_does_not_run(
    services: Services,
) -> None:
    """A version published before capabilities were checked, whose `MCP` capability would give
    the run a server's tools with no grant, approval or audit: it fails, saying why."""
    run_id = await launched(services, "uma")
    async with services.transaction() as session:
        run = await session.get(AgentRun, run_id)
        assert run is not None
        stored = {**DOCUMENT, "capabilities": [{"MCP": {"url": "http://127.0.0.1:9/mcp"}}]}
        await session.exec(
            update(AgentVersionRecord)
            .where(col(AgentVersionRecord.id) == run.agent_version_id)
            .values(document=stored)
        )
    async with engine(services) as (runs, charged):
        runs.kick()
        done = await finished(services, run_id)
    assert done.status == RunStatus.failed
    assert done.reason is not None
    assert done.reason.startswith(
        "summer@1.0.0 cannot run: /capabilities/0: capability `MCP` is not allowed"
    )
    assert done.reason.endswith("; publish a corrected version")
    assert charged == [], "the model was never asked"
