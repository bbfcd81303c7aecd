"""What people do with runs, the same from the API and the command line: launch, look, cancel,
decide. Each change is committed with its run event, then audited naming the agent and user.

Starting and resuming runs is the engine's (`RunEngine`) in a server process; these functions
only queue, so a decision taken at the command line is picked up by whichever server runs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from sqlmodel import col, select

from agents.availability import DEFAULT_MODELS
from agents.runs import approvals, launch
from agents.runs.errors import NotYourRunError, RunNotFoundError
from agents.runs.lifecycle import audit_event, cancel_run
from agents.runs.tables import AgentRun, RunStatus
from agents.runs.views import RunView, run_view
from agents.spec import agent_from_dict
from agents.tables import AgentVersionRecord
from registry.errors import RegistryError
from registry.models import Role
from switchboard.audit.log import Event
from switchboard.identity.accounts import at_least_role
from switchboard.identity.errors import ForbiddenError
from switchboard.services import Services

AuditWrite = Callable[[Event], Awaitable[None]]
SEES_EVERY_RUN = Role.security
"""Security reviewers and admins may look at (not act on) anyone's runs."""
MAX_LISTED = 200


async def start(
    services: Services,
    audit: AuditWrite,
    *,
    username: str,
    agent: str,
    answers: dict[str, Any],
    version: str | None = None,
    models: Collection[str] = DEFAULT_MODELS,
) -> RunView:
    async with services.transaction() as session:
        launched = await launch.launch(
            session,
            services.secrets,
            services.catalog,
            username=username,
            agent=agent,
            raw_answers=answers,
            version=version,
            models=models,
            max_queued=services.settings.agent_max_queued_runs_per_user,
        )
        view = await run_view(session, launched.run)
    await audit(audit_event(launched.run, "agent.run.launch", "queued"))
    return view


async def visible_run(services: Services, run_id: str, username: str, role: Role) -> AgentRun:
    """The run, if `username` launched it, may decide its approvals, or may see every run."""
    async with services.sessions() as session:
        run = await session.get(AgentRun, run_id) if len(run_id) <= 32 else None
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r}; `switchboard run list` shows yours")
        if run.username == username or at_least_role(role, SEES_EVERY_RUN):
            return run
        if username in await deciders(services, run):
            return run
    raise RunNotFoundError(f"no run {run_id!r}; `switchboard run list` shows yours")


async def deciders(services: Services, run: AgentRun) -> list[str]:
    """Who besides the launcher may decide the run's approvals: the spec's delegates."""
    async with services.sessions() as session:
        record = await session.get(AgentVersionRecord, run.agent_version_id)
    if record is None:
        return []
    document = agent_from_dict(record.document, f"{run.agent_name}@{run.version}")
    return list(document.switchboard.approval.delegates)


async def show(services: Services, run: AgentRun) -> RunView:
    async with services.sessions() as session:
        fresh = await session.get(AgentRun, run.id)
        assert fresh is not None
        return await run_view(session, fresh)


async def list_runs(
    services: Services,
    username: str,
    *,
    role: Role,
    everyone: bool = False,
    status: str | None = None,
) -> list[RunView]:
    if everyone and not at_least_role(role, SEES_EVERY_RUN):
        raise ForbiddenError(
            f"everyone's runs are for the {SEES_EVERY_RUN.value} role; {username} is a "
            f"{role.value} and sees their own"
        )
    if status and status not in set(RunStatus):
        choices = ", ".join(RunStatus)
        raise RegistryError(f"no run status {status!r}; use one of: {choices}")
    query = select(AgentRun).order_by(col(AgentRun.created_at).desc()).limit(MAX_LISTED)
    if not everyone:
        query = query.where(AgentRun.username == username)
    if status:
        query = query.where(AgentRun.status == status)
    async with services.sessions() as session:
        return [await run_view(session, run) for run in await session.exec(query)]


async def cancel(
    services: Services, audit: AuditWrite, run: AgentRun, *, by: str, role: Role
) -> RunView:
    if by != run.username and not at_least_role(role, Role.admin):
        raise NotYourRunError(f"only {run.username}, who launched run {run.id}, may cancel it")
    async with services.transaction() as session:
        fresh = await session.get(AgentRun, run.id)
        assert fresh is not None
        await cancel_run(session, fresh, by)
        view = await run_view(session, fresh)
    await audit(audit_event(fresh, "agent.run.cancel", "cancelled", actor=by))
    return view


async def decide(
    services: Services,
    audit: AuditWrite,
    run: AgentRun,
    approval_id: int,
    *,
    by: str,
    approve: bool,
    note: str | None,
) -> tuple[RunView, bool]:
    """Record a decision; the second value says whether the run is now queued to resume."""
    names = await deciders(services, run)
    async with services.transaction() as session:
        decided = await approvals.decide(
            session,
            run_id=run.id,
            approval_id=approval_id,
            username=by,
            deciders=names,
            approve=approve,
            note=note,
        )
        view = await run_view(session, decided.run)
    await audit(
        audit_event(
            decided.run,
            "agent.run.approval",
            "approved" if approve else "denied",
            actor=by,
            approval=approval_id,
            tool=decided.approval.tool,
            note=note,
        )
    )
    return view, decided.resume
