"""What the command line and the API do to a run without running it: cancel it, and describe it
in the audit log. Kept apart from the engine, which imports pydantic-ai's model clients and MCP
toolset, so that `switchboard run ...` does not pay seconds importing them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.approvals import void_pending
from agents.runs.errors import RunFinishedError
from agents.runs.events import add_event
from agents.runs.tables import FINISHED, AgentRun, RunStatus
from agents.runs.tokens import agent_client_id
from switchboard.audit.log import Event


async def cancel_run(session: AsyncSession, run: AgentRun, by: str) -> None:
    """End a run now (the caller commits, then tells the engine with `RunEngine.cancelled`)."""
    if run.status in FINISHED:
        raise RunFinishedError(f"run {run.id} has already ended ({run.status}); nothing to cancel")
    run.status = RunStatus.cancelled
    run.reason = f"cancelled by {by}"
    run.finished_at = datetime.now(UTC)
    run.runner = None
    session.add(run)
    await session.flush()
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
