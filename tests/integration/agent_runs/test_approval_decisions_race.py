"""One approval decided twice at the same moment (two tabs, the launcher and a delegate): the
first decision stands, the second is refused as already decided, never overwriting it."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from agents.publishing import publish_agent
from agents.runs import approvals, launch
from agents.runs.approvals import Decided
from agents.runs.errors import RunFinishedError
from agents.runs.tables import ApprovalStatus, RunApproval, RunEvent, RunStatus
from agents.spec import agent_from_dict
from registry.teams import ensure_user, get_team
from switchboard.services import Services

DOCUMENT = {
    "name": "decider",
    "instructions": "Ask first.",
    "switchboard": {"title": "Decider", "summary": "Asks", "version": "1.0.0", "prompt": "Go"},
}


async def waiting_run(services: Services) -> tuple[str, int]:
    """A run of `uma`'s waiting for one approval."""
    async with services.transaction() as session:
        owner = await get_team(session, services.settings.default_team)
        actor = await ensure_user(session, "uma")
        await publish_agent(session, agent_from_dict(DOCUMENT), team=owner, actor=actor)
    async with services.transaction() as session:
        launched = await launch.launch(
            session,
            services.secrets,
            services.catalog,
            username="uma",
            agent="decider",
            raw_answers={},
        )
        run = launched.run
        run.status = RunStatus.waiting_approval
        run.pending_calls = ["call-1"]
        session.add(run)
        approval = RunApproval(
            run_id=run.id, tool_call_id="call-1", tool="files.delete", arguments={}
        )
        session.add(approval)
        await session.flush()
        return run.id, approval.id or 0


async def decide(
    services: Services, run_id: str, approval_id: int, approve: bool
) -> Decided | RunFinishedError:
    try:
        async with services.transaction() as session:
            return await approvals.decide(
                session,
                run_id=run_id,
                approval_id=approval_id,
                username="uma",
                deciders=[],
                approve=approve,
                note=None,
            )
    except RunFinishedError as exc:
        return exc


async def test_one_approval_decided_twice_at_once_keeps_the_first_decision(
    services: Services,
) -> None:
    run_id, approval_id = await waiting_run(services)
    results = await asyncio.gather(
        decide(services, run_id, approval_id, True), decide(services, run_id, approval_id, False)
    )
    (won,) = [r for r in results if isinstance(r, Decided)]
    (lost,) = [r for r in results if isinstance(r, RunFinishedError)]
    stood = ApprovalStatus.approved if results[0] is won else ApprovalStatus.denied
    assert str(lost) == f"approval {approval_id} was already {stood} by uma"
    async with services.sessions() as session:
        approval = await session.get(RunApproval, approval_id)
        assert approval is not None
        assert approval.status == stood, "the decision the run resumes with is the one recorded"
        decisions = await session.exec(
            select(RunEvent).where(
                RunEvent.run_id == run_id, col(RunEvent.kind) == "approval_decision"
            )
        )
        assert len(decisions.all()) == 1


async def test_deciding_a_void_approval_says_why(services: Services) -> None:
    run_id, approval_id = await waiting_run(services)
    async with services.transaction() as session:
        await approvals.void_pending(session, run_id)
    refused = await decide(services, run_id, approval_id, True)
    assert isinstance(refused, RunFinishedError)
    assert str(refused) == f"approval {approval_id} is void: its run ended before anyone decided"
