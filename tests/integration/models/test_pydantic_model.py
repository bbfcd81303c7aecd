"""Agents run on the routed model: pydantic-ai's requests go through the router, are charged to
the run, and the router's errors reach the engine as themselves."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent
from sqlmodel import select

from agents.models.errors import AllDeploymentsFailedError, BudgetExceededError
from agents.models.layer import ModelLayer
from agents.models.router import Attribution
from agents.models.tables import ModelUsage
from tests.integration.models.conftest import anthropic, openai

RUN = Attribution(user="alice", team="research", run_id="run-42")


async def test_agent_runs_through_the_router(layer: ModelLayer, provider_url: str) -> None:
    document = {
        "aliases": {
            "smart": {
                "deployments": [openai(provider_url, "down500"), anthropic(provider_url, "ok")]
            }
        },
        "retries": 0,
    }
    await layer.store.replace(document, "tests")
    agent = Agent(layer.model("smart", RUN))
    result = await agent.run("hello?")
    assert result.output == "hello from anthropic ok"
    assert result.usage.input_tokens == 12
    async with agent.run_stream("again") as streamed:
        text = await streamed.get_output()
    assert text == "hello anthropic"
    async with layer.services.sessions() as session:
        rows = (await session.exec(select(ModelUsage))).all()
    assert [(r.run_id, r.user, r.team, r.streamed) for r in rows] == [
        ("run-42", "alice", "research", False),
        ("run-42", "alice", "research", True),
    ]


async def test_router_errors_reach_the_engine_typed(
    layer: ModelLayer, provider_url: str, dead_url: str
) -> None:
    document = {
        "aliases": {
            "smart": {"deployments": [openai(provider_url, "ok")]},
            "broken": {"deployments": [openai(dead_url, "down")]},
        },
        "teams": {"research": {"budget": 0}},
        "retries": 0,
    }
    await layer.store.replace(document, "tests")
    with pytest.raises(BudgetExceededError, match="team `research` has spent"):
        await Agent(layer.model("smart", RUN)).run("hello?")
    other = Attribution(user="bob", team="default")
    with pytest.raises(AllDeploymentsFailedError, match="down refused the connection"):
        await Agent(layer.model("broken", other)).run("hello?")
    with pytest.raises(AllDeploymentsFailedError):
        async with Agent(layer.model("broken", other)).run_stream("hello?") as streamed:
            await streamed.get_output()
