"""A person's running-run limit holds across replicas: claims from several processes at the
same moment, each having counted the person's runs before the others claimed, start no more
than the limit."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from sqlmodel import select

from agents.publishing import publish_agent
from agents.runs.engine import RunEngine
from agents.runs.service import start
from agents.runs.tables import AgentRun, RunStatus
from agents.spec import agent_from_dict
from registry.teams import ensure_user, get_team
from switchboard.audit.log import Event
from switchboard.services import Services

DOCUMENT = {
    "name": "counter",
    "instructions": "Count.",
    "switchboard": {"title": "Counter", "summary": "Counts", "version": "1.0.0", "prompt": "Go"},
}


async def queued_runs(services: Services, username: str, count: int) -> list[str]:
    async with services.transaction() as session:
        owner = await get_team(session, services.settings.default_team)
        actor = await ensure_user(session, username)
        await publish_agent(session, agent_from_dict(DOCUMENT), team=owner, actor=actor)
    return [
        (await start(services, no_audit, username=username, agent="counter", answers={})).id
        for _ in range(count)
    ]


async def no_audit(event: Event) -> None:
    return None


def replica(services: Services, max_per_user: int) -> RunEngine:
    engine = RunEngine(services, audit=no_audit)
    engine.max_per_user = max_per_user
    return engine


async def running(services: Services) -> list[AgentRun]:
    async with services.sessions() as session:
        rows = await session.exec(select(AgentRun).where(AgentRun.status == RunStatus.running))
        return list(rows.all())


async def test_claims_from_several_replicas_at_once_keep_the_per_person_limit(
    services: Services,
) -> None:
    runs = await queued_runs(services, "uma", 6)
    replicas = [replica(services, max_per_user=2) for _ in range(3)]
    claimed = await asyncio.gather(
        *(engine._claim(run_id) for engine, run_id in zip(replicas * 2, runs, strict=True))
    )
    assert sum(claimed) == 2, claimed
    started = await running(services)
    assert sorted(run.id for run in started) == sorted(
        run_id for run_id, won in zip(runs, claimed, strict=True) if won
    )
    assert {run.runner for run in started} <= {engine.runner_id for engine in replicas}


async def test_a_replica_that_counted_before_another_claimed_cannot_exceed_the_limit(
    services: Services,
) -> None:
    first, second = await queued_runs(services, "uma", 2)
    (other,) = await queued_runs(services, "vic", 1)
    one, two = replica(services, max_per_user=1), replica(services, max_per_user=1)
    assert await one._claim(first)
    assert not await two._claim(second), "uma already has her one run running"
    assert await two._claim(other), "the limit is per person"
    assert {run.id for run in await running(services)} == {first, other}


async def test_each_replica_starts_up_to_its_own_concurrency_limit(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await queued_runs(services, "uma", 2)
    await queued_runs(services, "vic", 2)
    one, two = replica(services, max_per_user=2), replica(services, max_per_user=2)
    release = anyio.Event()

    async def hold(run_id: str) -> None:
        await release.wait()

    async with anyio.create_task_group() as tasks:
        for engine in (one, two):
            engine.max_total = 1
            engine._tasks = tasks
            monkeypatch.setattr(engine, "_run", hold)
        await one._start_queued()
        await one._start_queued()
        await two._start_queued()
        release.set()
    started = await running(services)
    assert sorted(run.runner or "" for run in started) == sorted([one.runner_id, two.runner_id])
