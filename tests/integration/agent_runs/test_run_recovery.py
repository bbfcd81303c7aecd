"""After a restart, a run waiting for approval still waits (and resumes from its stored
history when approved); runs that were running are `interrupted` with a reason, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo
from sqlalchemy import update
from sqlmodel import col

from agents.runs.engine import Stop
from agents.runs.tables import AgentRun
from tests.integration.agent_runs.conftest import WorldFactory
from tests.integration.agent_runs.test_run_engine import echo_then_report

pytestmark = pytest.mark.docker


async def test_restart_keeps_waiting_runs_and_interrupts_running_ones(world: WorldFactory) -> None:
    started = anyio.Event()

    async def stuck(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with world() as w:
        w.model(echo_then_report)
        waiting = await w.launch("helper", {"expression": "1"})
        await w.wait(waiting["id"], "waiting_approval")
        crashed = await w.launch("helper", {"expression": "2"})
        await w.wait(crashed["id"], "waiting_approval")
        w.model(stuck)
        running = await w.launch("helper", {"expression": "3"})
        with anyio.fail_after(60):
            await started.wait()
        # as if a process that died had been running it: nobody's heartbeat for an hour
        async with w.server.services.transaction() as session:
            await session.exec(
                update(AgentRun)
                .where(col(AgentRun.id) == crashed["id"])
                .values(
                    status="running",
                    runner="a-process-that-died",
                    heartbeat_at=datetime.now(UTC) - timedelta(hours=1),
                )
            )

    async with world(publish_servers=False) as w:
        w.model(echo_then_report)
        stopped = await w.wait(running["id"], "interrupted")
        assert "stopped while the run was running" in stopped["reason"]
        lost = await w.wait(crashed["id"], "interrupted")
        assert "restarted" in lost["reason"]
        still = await w.wait(waiting["id"], "waiting_approval")
        (approval,) = still["approvals"]
        decided = await w.user.post(
            f"/api/v1/runs/{waiting['id']}/approvals/{approval['id']}", json={"approve": True}
        )
        assert decided.status_code == 200, decided.text
        done = await w.wait(waiting["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert "ship it" in done["output"]
        events = await w.events(running["id"])
        assert events[-1]["status"] == "interrupted"
        assert events[-2]["kind"] == "error"


async def test_a_run_whose_end_could_not_be_recorded_is_interrupted_not_left_running(
    world: WorldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("done")])

    async with world(agent_heartbeat_seconds=0.3) as w:
        w.model(answer)
        engine = w.engine
        finish = engine._finish
        failures = []

        async def failing_once(run_id: str, stop: Stop, *, runner: str | None) -> bool:
            if not failures:
                failures.append(run_id)
                raise OSError("the database went away for a moment")
            return await finish(run_id, stop, runner=runner)

        monkeypatch.setattr(engine, "_finish", failing_once)
        lost = await w.launch("helper", {"expression": "1"})
        ended = await w.wait(lost["id"], "interrupted")
        assert failures == [lost["id"]]
        assert "could not record how the run ended" in ended["reason"]
        fine = await w.launch("helper", {"expression": "2"})
        assert (await w.wait(fine["id"], "succeeded"))["output"] == "done", "the engine runs on"
