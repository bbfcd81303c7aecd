"""Agent runs through the real `/mcp` and real sandboxes, the model scripted with
`FunctionModel`: tool calls, approvals, denials, limits, policy, cancel and bad answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo
from sqlalchemy import text
from sqlmodel import col, select

from registry.models import Role
from switchboard.audit.models import AuditRecord
from switchboard.identity.accounts import create_user
from switchboard.identity.pats import create_pat
from tests.integration.agent_runs.conftest import WorldFactory, agent_document, publish

pytestmark = pytest.mark.docker


def last_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


def call_then_report(tool: str, arguments: dict[str, Any]) -> Any:
    """Call `tool` once, then say what came back."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = last_returns(messages)
        if not returns:
            assert tool in [t.name for t in info.function_tools]
            return ModelResponse(parts=[TextPart("Let me check."), ToolCallPart(tool, arguments)])
        return ModelResponse(parts=[TextPart(f"{returns[0].outcome}: {returns[0].content}")])

    return script


async def audit_records(world: Any, action: str) -> list[AuditRecord]:
    async with world.server.services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord).where(AuditRecord.action == action).order_by(col(AuditRecord.seq))
        )
        return list(rows)


async def test_a_run_calls_a_read_only_tool_and_finishes(world: WorldFactory) -> None:
    async with world() as w:
        w.model(call_then_report("calculator.evaluate", {"expression": "6*7"}))
        run = await w.launch("helper", {"expression": "6*7", "pin": "40417"})
        assert run["status"] == "queued"
        assert run["answers"] == {"expression": "6*7"}, "the sensitive answer is not shown"
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert "42" in done["output"]
        assert done["approvals"] == []
        events = await w.events(run["id"])
        kinds = [e["kind"] for e in events]
        assert kinds == [
            "status",  # queued
            "status",  # running
            "model_text",
            "tool_call",
            "tool_result",
            "model_text",
            "output",
            "status",  # succeeded
        ], kinds
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        call = events[3]
        assert call["tool"] == "calculator.evaluate"
        assert call["arguments"] == {"expression": "6*7"}
        assert events[4]["outcome"] == "success"
        assert "42" in events[4]["content"]
        assert events[-1]["status"] == "succeeded"
        again = await w.user.get(f"/api/v1/runs/{run['id']}/events?after=6")
        assert "event: status" in again.text
        assert "event: tool_call" not in again.text

        (tool_call,) = await audit_records(w, "tool.call")
        assert tool_call.actor == "uma"
        assert tool_call.on_behalf_of == "uma"
        assert tool_call.client == "agent:helper"
        assert tool_call.target == "calculator.evaluate"
        assert tool_call.outcome == "ok"
        for action, outcome in (("agent.run.launch", "queued"), ("agent.run.finish", "succeeded")):
            (record,) = await audit_records(w, action)
            assert (record.actor, record.client, record.outcome) == ("uma", "agent:helper", outcome)
            assert record.detail["run"] == run["id"]

        stored = []
        async with w.server.services.sessions() as session:
            for table in ("agent_run", "agent_run_event", "audit_record"):
                stored += [str(row) for row in (await session.exec(select_all(table))).all()]
        everything = " ".join(stored)
        assert "40417" not in everything, "the sensitive answer is stored nowhere in clear"


def select_all(table: str) -> Any:
    return text(f"SELECT * FROM {table}")


def echo_then_report(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns = last_returns(messages)
    if not returns:
        return ModelResponse(parts=[ToolCallPart("hostile.echo", {"text": "ship it"})])
    return ModelResponse(parts=[TextPart(f"{returns[0].outcome}: {returns[0].content}")])


async def test_approval_pauses_the_run_then_approve_resumes_and_deny_tells_the_model(
    world: WorldFactory,
) -> None:
    async with world() as w:
        w.model(echo_then_report)
        run = await w.launch("helper", {"expression": "1"})
        waiting = await w.wait(run["id"], "waiting_approval")
        assert "hostile.echo" in waiting["reason"]
        (approval,) = waiting["approvals"]
        assert approval["tool"] == "hostile.echo"
        assert approval["arguments"] == {"text": "ship it"}
        assert approval["status"] == "pending"
        assert await audit_records(w, "tool.call") == [], "nothing ran before the approval"
        last = (await w.engine.events.history(run["id"]))[-1].seq
        quiet = w.engine.events.follow(run["id"], last, quiet=0.2)
        assert await anext(quiet) is None, "a quiet stream is told the run is still there"
        await quiet.aclose()

        decision = f"/api/v1/runs/{run['id']}/approvals/{approval['id']}"
        stranger = await w.admin.post(decision, json={"approve": True})
        assert stranger.status_code == 403, "only the launcher (or a delegate) decides"
        approved = await w.user.post(decision, json={"approve": True, "note": "fine"})
        assert approved.status_code == 200, approved.text
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert done["output"].startswith("success:")
        assert "ship it" in done["output"]
        assert done["approvals"][0]["decided_by"] == "uma"
        again = await w.user.post(decision, json={"approve": False})
        assert again.status_code == 409
        kinds = [e["kind"] for e in await w.events(run["id"])]
        assert kinds[kinds.index("approval_request") :] == [
            "approval_request",
            "status",  # waiting_approval
            "approval_decision",
            "status",  # queued
            "status",  # running
            "tool_result",
            "model_text",
            "output",
            "status",  # succeeded
        ], kinds
        (call,) = await audit_records(w, "tool.call")
        assert call.client == "agent:helper"
        assert call.on_behalf_of == "uma"
        (decided,) = await audit_records(w, "agent.run.approval")
        assert decided.actor == "uma"
        assert decided.outcome == "approved"
        assert decided.detail["tool"] == "hostile.echo"

        denied_run = await w.launch("helper", {"expression": "2"})
        waiting = await w.wait(denied_run["id"], "waiting_approval")
        decision = f"/api/v1/runs/{denied_run['id']}/approvals/{waiting['approvals'][0]['id']}"
        denied = await w.user.post(decision, json={"approve": False, "note": "not today"})
        assert denied.status_code == 200, denied.text
        done = await w.wait(denied_run["id"], "succeeded", "failed")
        assert done["output"] == "denied: uma denied this tool call: not today"
        assert len(await audit_records(w, "tool.call")) == 1, "the denied call never ran"


async def test_cancel_and_an_approval_for_a_cancelled_run(world: WorldFactory) -> None:
    async with world() as w:
        w.model(echo_then_report)
        run = await w.launch("helper", {"expression": "1"})
        waiting = await w.wait(run["id"], "waiting_approval")
        cancelled = await w.user.post(f"/api/v1/runs/{run['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["approvals"][0]["status"] == "void"
        decision = f"/api/v1/runs/{run['id']}/approvals/{waiting['approvals'][0]['id']}"
        late = await w.user.post(decision, json={"approve": True})
        assert late.status_code == 409
        assert "cancelled" in late.json()["detail"]
        assert (await w.user.post(f"/api/v1/runs/{run['id']}/cancel")).status_code == 409

        started = anyio.Event()

        async def stuck(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            started.set()
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        w.model(stuck)
        running = await w.launch("helper", {"expression": "3"})
        with anyio.fail_after(60):
            await started.wait()
        cancelled = await w.user.post(f"/api/v1/runs/{running['id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        events = await w.events(running["id"])  # the stream ends: the run has ended
        assert events[-1]["status"] == "cancelled"
        assert events[-1]["reason"] == "cancelled by uma"
        records = await audit_records(w, "agent.run.cancel")
        assert [(r.actor, r.client, r.detail["run"]) for r in records] == [
            ("uma", "agent:helper", run["id"]),
            ("uma", "agent:helper", running["id"]),
        ]


async def test_bad_answers_limits_and_policy(world: WorldFactory) -> None:
    async with world() as w:
        bad = await w.user.post(
            "/api/v1/agents/helper/runs", json={"answers": {"pin": 7, "colour": "red"}}
        )
        assert bad.status_code == 422
        pointers = {e["pointer"] for e in bad.json()["errors"]}
        assert pointers == {"/expression", "/pin", "/colour"}

        await publish(
            w.server,
            agent_document(
                "looper", limits={"tool_calls": 2, "requests": 10}, tools=["calculator"]
            ),
        )

        def loop(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            return ModelResponse(parts=[ToolCallPart("calculator.evaluate", {"expression": "1+1"})])

        w.model(loop)
        run = await w.launch("looper", {"expression": "1+1"})
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "failed"
        assert "limit" in done["reason"]
        assert "tool_calls_limit" in done["reason"] or "tool call" in done["reason"]
        events = await w.events(run["id"])
        results = [e for e in events if e["kind"] == "tool_result"]
        assert len(results) == 2, "the calls made before the limit stay in the history"
        assert events[-2]["kind"] == "error"

        # a user whose teams are granted nothing cannot launch it, and is told why
        services = w.server.services
        async with services.transaction() as session:
            outsider = await create_user(session, "otto", role=Role.user, password="x" * 12)
            token, _ = await create_pat(
                session,
                outsider,
                name="t",
                scopes=["api"],
                allowed={"api"},
                expires_in=timedelta(days=1),
            )
        refused = await w.user.post(
            "/api/v1/agents/helper/runs",
            json={"answers": {"expression": "1"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 403
        assert "grant" in refused.json()["detail"]
        assert "hostile.echo" in refused.json()["detail"]

        # a grant revoked while the run waits: the approved call is refused by the toolhost
        w.model(echo_then_report)
        run = await w.launch("helper", {"expression": "1"})
        waiting = await w.wait(run["id"], "waiting_approval")
        revoked = await w.admin.delete(f"/api/v1/grants/{services.settings.default_team}/hostile")
        assert revoked.status_code == 204, revoked.text
        decision = f"/api/v1/runs/{run['id']}/approvals/{waiting['approvals'][0]['id']}"
        assert (await w.user.post(decision, json={"approve": True})).status_code == 200
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert "hostile.echo" in done["output"]
        assert "ship it" not in done["output"], "the tool did not run"
        calls = await audit_records(w, "tool.call")
        assert [c.target for c in calls] == ["calculator.evaluate"] * 2, "echo never ran"


async def test_launches_past_the_queue_cap_are_refused(world: WorldFactory) -> None:
    async with world(agent_max_runs_per_user=1, agent_max_queued_runs_per_user=1) as w:
        release = anyio.Event()

        async def slow(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            await release.wait()
            return ModelResponse(parts=[TextPart("done")])

        w.model(slow)
        first = await w.launch("helper", {"expression": "1"})
        await w.wait(first["id"], "running")
        second = await w.launch("helper", {"expression": "2"})
        refused = await w.user.post(
            "/api/v1/agents/helper/runs", json={"answers": {"expression": "3"}}
        )
        assert refused.status_code == 429, refused.text
        assert "SWITCHBOARD_AGENT_MAX_QUEUED_RUNS_PER_USER" in refused.json()["detail"]
        release.set()
        for run in (first, second):
            assert (await w.wait(run["id"], "succeeded", "failed"))["status"] == "succeeded"
        assert (
            await w.user.post("/api/v1/agents/helper/runs", json={"answers": {"expression": "4"}})
        ).status_code == 201, "the queue emptied, so launches are taken again"
