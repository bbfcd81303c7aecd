"""Publishing agent versions: immutable per version, idempotent for the same document.

Republishing the very same document (same digest) is a no-op, so `make up` can publish the
bundled catalogue on every start; a changed document under a version already published is
refused, because runs and audit records point at versions and must keep meaning one thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.spec import AgentDocument, check_publishable
from agents.tables import AgentRecord, AgentVersionRecord
from agents.versions import find_agent, get_agent, load_version
from registry.errors import ConflictError
from registry.journal import note
from registry.models import Team, User, pk


@dataclass(frozen=True)
class Published:
    agent: AgentRecord
    version: AgentVersionRecord
    created: bool
    """False when this exact document was already published under this version."""


async def publish_agent(
    session: AsyncSession, document: AgentDocument, *, team: Team, actor: User
) -> Published:
    """Store `document` as a new version of its agent, owned by `team` on first publish."""
    check_publishable(document, f"{document.name}@{document.switchboard.version}")
    agent = await _agent_for(session, document.name, team=team, actor=actor)
    version = document.switchboard.version
    existing = (
        await session.exec(
            select(AgentVersionRecord).where(
                AgentVersionRecord.agent_id == pk(agent), AgentVersionRecord.version == version
            )
        )
    ).first()
    if existing is not None:
        if existing.digest == document.digest:
            return Published(agent, existing, created=False)
        raise ConflictError(
            f"agent {document.name!r} version {version} is already published with different "
            f"content; versions are immutable: bump `switchboard.version` (now {version}) "
            "and publish again"
        )
    row = AgentVersionRecord(
        agent_id=pk(agent),
        version=version,
        document=document.source,
        digest=document.digest,
        published_by_id=pk(actor),
    )
    session.add(row)
    await session.flush()
    note(
        session,
        actor.username,
        "agent.publish",
        f"{document.name}@{version}",
        digest=document.digest,
        team=team.name,
    )
    return Published(agent, row, created=True)


async def withdraw_agent(
    session: AsyncSession, name: str, version: str, *, actor: User, reason: str | None = None
) -> AgentVersionRecord:
    """Stop new launches of `name@version`; its runs and history stay. Withdrawing again is a
    no-op; the newest version not withdrawn is what a launch without a version gets."""
    row, _ = await load_version(session, name, version)
    if not row.withdrawn:
        row.withdrawn = True
        session.add(row)
        await session.flush()
        detail = {"reason": reason} if reason else {}
        note(session, actor.username, "agent.withdraw", f"{name}@{version}", **detail)
    return row


async def owner_of(session: AsyncSession, name: str) -> Team:
    """The team that owns agent `name`."""
    agent = await get_agent(session, name)
    team = await session.get(Team, agent.owner_team_id)
    assert team is not None, "agent.owner_team_id is a foreign key"
    return team


async def _agent_for(session: AsyncSession, name: str, *, team: Team, actor: User) -> AgentRecord:
    agent = await find_agent(session, name)
    if agent is None:
        agent = AgentRecord(name=name, owner_team_id=pk(team), created_by_id=pk(actor))
        session.add(agent)
        await session.flush()
        return agent
    if agent.owner_team_id != team.id:
        owner = await session.get(Team, agent.owner_team_id)
        raise ConflictError(
            f"agent {name!r} is owned by team {owner.name if owner else '?'!r}; "
            "publish new versions as that team (`--team` / `?team=`)"
        )
    return agent


async def list_versions(session: AsyncSession, agent: AgentRecord) -> list[AgentVersionRecord]:
    """Newest first (in the order they were published)."""
    rows = await session.exec(
        select(AgentVersionRecord)
        .where(AgentVersionRecord.agent_id == pk(agent))
        .order_by(col(AgentVersionRecord.id).desc())
    )
    return list(rows.all())
