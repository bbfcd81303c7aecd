"""Launching: the answers checked against the form, the caller checked against the agent's
audience, tools and model, and the run stored as `queued` with its sensitive answers sealed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.availability import DEFAULT_MODELS, availability, caller
from agents.runs.errors import NotLaunchableError, TooManyRunsError
from agents.runs.events import Redactor, add_event
from agents.runs.tables import AgentRun, RunStatus
from agents.spec import AgentDocument, validate_answers
from agents.versions import load_version
from registry.errors import NotFoundError
from registry.models import pk
from registry.secretbox import SecretBox
from registry.teams import ensure_user
from registry.visibility import CatalogCache


def answers_context(run_id: str) -> str:
    return f"agent-run:{run_id}:answers"


def history_context(run_id: str) -> str:
    return f"agent-run:{run_id}:history"


@dataclass(frozen=True)
class Launched:
    run: AgentRun
    document: AgentDocument


def split_answers(
    document: AgentDocument, answers: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(answers that may be stored and shown, sensitive answers)."""
    sensitive = {q.key for q in document.switchboard.questions if q.sensitive}
    shown = {k: v for k, v in answers.items() if k not in sensitive}
    hidden = {k: v for k, v in answers.items() if k in sensitive and v is not None}
    return shown, hidden


def redactor_for(document: AgentDocument, answers: dict[str, Any]) -> Redactor:
    return Redactor(split_answers(document, answers)[1].values())


async def launch(
    session: AsyncSession,
    box: SecretBox,
    catalog: CatalogCache,
    *,
    username: str,
    agent: str,
    raw_answers: dict[str, Any],
    version: str | None = None,
    models: Collection[str] = DEFAULT_MODELS,
    max_queued: int | None = None,
) -> Launched:
    """Store a new run of `agent` for `username`, or raise why it cannot be launched."""
    if max_queued is not None:
        await _refuse_past(session, username, max_queued)
    record, document = await load_version(session, agent, version)
    who = await caller(session, catalog, username)
    if not who.sees(document):
        # As `agent show` answers: its form, withdrawals and audience stay unknown too.
        raise NotFoundError(f"no agent named {agent!r}; `switchboard agent list` shows them")
    if record.withdrawn:
        raise NotLaunchableError(
            f"{agent}@{record.version} was withdrawn; launch the newest version instead"
        )
    answers = validate_answers(document.switchboard.questions, raw_answers)
    offer = await availability(session, catalog, who, document, models=models)
    if not offer.launchable:
        raise NotLaunchableError(f"you cannot launch {agent} now: " + "; ".join(offer.reasons))
    user = await ensure_user(session, username)
    run_id = uuid.uuid4().hex
    shown, hidden = split_answers(document, answers)
    run = AgentRun(
        id=run_id,
        agent_name=document.name,
        agent_version_id=pk(record),
        version=record.version,
        user_id=pk(user),
        username=username,
        status=RunStatus.queued,
        answers=shown,
        sealed_answers=box.seal(answers_context(run_id), json.dumps(hidden)) if hidden else None,
    )
    session.add(run)
    await session.flush()
    tools = [t.name for t in offer.tools if t.granted]
    data = {"status": RunStatus.queued, "agent": document.name, "version": record.version}
    await add_event(session, run_id, "status", {**data, "tools": tools})
    return Launched(run, document)


async def _refuse_past(session: AsyncSession, username: str, max_queued: int) -> None:
    """Counted, not locked: two launches at the same moment may both pass, so the cap can be
    passed by the number of launches racing, never without bound."""
    queued = (
        await session.exec(
            select(func.count())
            .select_from(AgentRun)
            .where(AgentRun.username == username, AgentRun.status == RunStatus.queued)
        )
    ).one()
    if queued >= max_queued:
        raise TooManyRunsError(
            f"you already have {queued} runs waiting to start (the most one person may have, "
            "SWITCHBOARD_AGENT_MAX_QUEUED_RUNS_PER_USER); launch again once some have started, "
            "or cancel some"
        )
