"""What people (API, command line) see of a run: never the sealed answers or history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.tables import AgentRun, RunApproval


class ApprovalView(BaseModel):
    id: int
    tool: str
    arguments: dict[str, Any]
    status: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class RunView(BaseModel):
    id: str
    agent: str
    version: str
    user: str
    status: str
    reason: str | None = None
    answers: dict[str, Any]
    """Sensitive answers are left out."""
    output: Any = None
    usage: dict[str, Any]
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    approvals: list[ApprovalView]


class EventView(BaseModel):
    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]


async def run_view(session: AsyncSession, run: AgentRun) -> RunView:
    approvals = await session.exec(
        select(RunApproval).where(RunApproval.run_id == run.id).order_by(col(RunApproval.id))
    )
    return RunView(
        id=run.id,
        agent=run.agent_name,
        version=run.version,
        user=run.username,
        status=run.status,
        reason=run.reason,
        answers=run.answers,
        output=run.output,
        usage={k: v for k, v in run.usage.items() if v and not isinstance(v, dict)},
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        approvals=[ApprovalView.model_validate(a, from_attributes=True) for a in approvals],
    )
