"""Agent runs through the real `/mcp` and real sandboxes, the model scripted with
`FunctionModel`: tool calls, approvals, denials, limits, policy, cancel and bad answers."""

from __future__ import annotations

from typing import Any

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

from switchboard.audit.models import AuditRecord
from tests.integration.agent_runs.conftest import WorldFactory

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
