"""What the command line and the API do to a run without running it: cancel it, and describe it
in the audit log. Kept apart from the engine, which imports pydantic-ai's model clients and MCP
toolset, so that `switchboard run ...` does not pay seconds importing them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.approvals import void_pending
from agents.runs.errors import RunFinishedError
from agents.runs.events import add_event
from agents.runs.tables import FINISHED, AgentRun, RunStatus
from agents.runs.tokens import agent_client_id
from switchboard.audit.log import Event


async def cancel_run(session: AsyncSession, run: AgentRun, by: str) -> None:
    """End a run now (the caller commits, then tells the engine with `RunEngine.cancelled`)."""
    # Only a run not yet ended is cancelled: of a cancel and the run ending or pausing in
    # another process at the same moment, the one committed second sees the other's status.
    cancelled = await session.exec(
        update(AgentRun)
        .where(col(AgentRun.id) == run.id, col(AgentRun.status).not_in(FINISHED))
        .values(
            status=RunStatus.cancelled,
            reason=f"cancelled by {by}",
            finished_at=datetime.now(UTC),
            runner=None,
        )
    )
    await session.refresh(run)
    if cancelled.rowcount != 1:
        raise RunFinishedError(f"run {run.id} has already ended ({run.status}); nothing to cancel")
    await void_pending(session, run.id)
    data = {"status": RunStatus.cancelled, "reason": run.reason}
    await add_event(session, run.id, "status", data)


def audit_event(
    run: AgentRun, action: str, outcome: str, *, actor: str | None = None, **detail: Any
) -> Event:
    """An audit record about `run`, naming the agent (as the client) and the user it acts for."""
    facts = {"run": run.id, "agent": run.agent_name, "version": run.version, **detail}
    return Event(
        actor=actor or run.username,
        action=action,
        outcome=outcome,
        target=f"{run.agent_name}@{run.version}",
        on_behalf_of=run.username,
        client=agent_client_id(run.agent_name),
        detail={k: v for k, v in facts.items() if v is not None},
    )
