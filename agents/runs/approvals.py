"""Which tool calls wait for a person, and recording their decisions.

The decision uses the tool's annotations as the toolhost lists them (`readOnlyHint`,
`destructiveHint`) and the agent's `approval` block, whose lists may name a tool
(`<slug>.<tool>`) or a whole server (`<slug>`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.tools import ToolDefinition
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.errors import NotYourRunError, RunFinishedError, RunNotFoundError
from agents.runs.events import add_event
from agents.runs.tables import AgentRun, ApprovalStatus, RunApproval, RunStatus
from agents.spec import Approval


def hints(annotations: dict[str, Any] | None) -> tuple[bool, bool]:
    """(read-only, destructive) as MCP defines the hints' defaults."""
    annotations = annotations or {}
    read_only = annotations.get("readOnlyHint") is True
    destructive = not read_only and annotations.get("destructiveHint") is not False
    return read_only, destructive


def needs_approval(policy: Approval, tool: str, annotations: dict[str, Any] | None) -> bool:
    slug = tool.partition(".")[0]
    if tool not in policy.always and tool not in policy.never:
        if slug in policy.never:
            return False
        if slug in policy.always:
            return True
    read_only, destructive = hints(annotations)
    return policy.needs_approval(tool, read_only=read_only, destructive=destructive)


def approval_check(policy: Approval) -> Callable[[RunContext[Any], ToolDefinition, Any], bool]:
    """For `ApprovalRequiredToolset`: whether this call must wait for a person."""

    def check(_: RunContext[Any], tool: ToolDefinition, __: Any) -> bool:
        return needs_approval(policy, tool.name, (tool.metadata or {}).get("annotations"))

    return check


@dataclass(frozen=True)
class Decided:
    run: AgentRun
    approval: RunApproval
    resume: bool
    """Every approval the run waited on is decided: it is queued to resume."""


async def decide(
    session: AsyncSession,
    *,
    run_id: str,
    approval_id: int,
    username: str,
    deciders: list[str],
    approve: bool,
    note: str | None,
) -> Decided:
    """Record one decision; when it was the last one awaited, queue the run to resume."""
    run = await session.get(AgentRun, run_id)
    approval = await session.get(RunApproval, approval_id)
    if run is None or approval is None or approval.run_id != run_id:
        raise RunNotFoundError(f"run {run_id} has no approval {approval_id}")
    if username != run.username and username not in deciders:
        raise NotYourRunError(
            f"only {run.username} (who launched the run) or a delegate the agent names "
            f"({', '.join(deciders) or 'none'}) may decide its approvals"
        )
    if run.status != RunStatus.waiting_approval:
        raise RunFinishedError(
            f"run {run_id} is {run.status}, not waiting for approval; nothing to decide"
        )
    if approval.status != ApprovalStatus.pending:
        raise _already_decided(approval)
    # Only a pending approval is decided: of two decisions racing, the one committed second
    # finds it decided (or void, after a cancel), instead of overwriting the first.
    decided = await session.exec(
        update(RunApproval)
        .where(col(RunApproval.id) == approval_id, col(RunApproval.status) == "pending")
        .values(
            status=ApprovalStatus.approved if approve else ApprovalStatus.denied,
            decided_by=username,
            decided_at=datetime.now(UTC),
            note=note,
        )
    )
    await session.refresh(approval)
    if decided.rowcount != 1:
        raise _already_decided(approval)
    decision = {
        "approval_id": approval_id,
        "tool": approval.tool,
        "approve": approve,
        "by": username,
        "note": note,
    }
    await add_event(session, run_id, "approval_decision", decision)
    pending = (
        await session.exec(
            select(RunApproval.id).where(
                RunApproval.run_id == run_id, RunApproval.status == ApprovalStatus.pending
            )
        )
    ).first()
    resume = pending is None
    if resume:
        await session.exec(
            update(AgentRun)
            .where(col(AgentRun.id) == run_id, col(AgentRun.status) == RunStatus.waiting_approval)
            .values(status=RunStatus.queued, reason=None)
        )
        queued = {"status": RunStatus.queued, "reason": "every approval is decided"}
        await add_event(session, run_id, "status", queued)
    await session.refresh(run)
    return Decided(run, approval, resume)


def _already_decided(approval: RunApproval) -> RunFinishedError:
    if approval.status == ApprovalStatus.void:
        return RunFinishedError(
            f"approval {approval.id} is void: its run ended before anyone decided"
        )
    return RunFinishedError(
        f"approval {approval.id} was already {approval.status} by {approval.decided_by}"
    )


async def void_pending(session: AsyncSession, run_id: str) -> None:
    """A run that ends while it waits leaves no approval open."""
    await session.exec(
        update(RunApproval)
        .where(col(RunApproval.run_id) == run_id, col(RunApproval.status) == "pending")
        .values(status=ApprovalStatus.void)
    )
