"""The agent catalogue as one caller sees it: cards to browse and one agent in full.

Shared by the JSON API and the command line, so both say the same about what a person may
launch and why not.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.availability import AgentTool, Caller, availability
from agents.publishing import list_versions
from agents.spec import AgentDocument, Limits, Question, agent_from_dict
from agents.tables import AgentRecord, AgentVersionRecord
from agents.versions import load_version
from registry.errors import NotFoundError
from registry.models import Team, User
from registry.visibility import CatalogCache


class AgentCard(BaseModel):
    name: str
    version: str
    title: str
    summary: str
    icon: str
    category: str
    owner: str
    """The team that publishes it."""
    launchable: bool
    reasons: list[str]
    """Why the caller cannot launch it now; empty when `launchable`."""
    tools: list[AgentTool]
    """What it will access: its tools in the catalogue, each saying whether it needs approval."""


class VersionView(BaseModel):
    version: str
    digest: str
    published_by: str
    published_at: datetime
    withdrawn: bool


class AgentDetail(AgentCard):
    model: str
    """The routed model layer's alias it runs on."""
    questions: list[Question]
    """The launch form."""
    limits: Limits
    document: dict[str, Any]
    """The version's document exactly as published."""
    versions: list[VersionView]
    """Newest first."""


async def agent_cards(
    session: AsyncSession,
    catalog: CatalogCache,
    who: Caller,
    *,
    models: Collection[str],
) -> list[AgentCard]:
    """Every agent the caller sees, at its newest version not withdrawn, by title."""
    rows = await session.exec(
        select(AgentRecord, AgentVersionRecord, Team.name)
        .join(AgentVersionRecord, col(AgentVersionRecord.agent_id) == AgentRecord.id)
        .join(Team, col(Team.id) == AgentRecord.owner_team_id)
        .where(col(AgentVersionRecord.withdrawn).is_(False))
        .order_by(col(AgentVersionRecord.id).desc())
    )
    newest: dict[str, tuple[AgentVersionRecord, str]] = {}
    for agent, version, owner in rows:
        newest.setdefault(agent.name, (version, owner))
    cards = []
    for name, (version, owner) in newest.items():
        document = agent_from_dict(version.document, f"{name}@{version.version}")
        if who.sees(document):
            cards.append(await _card(session, catalog, who, document, owner, models))
    return sorted(cards, key=lambda card: (card.title.lower(), card.name))


async def agent_detail(
    session: AsyncSession,
    catalog: CatalogCache,
    who: Caller,
    name: str,
    version: str | None = None,
    *,
    models: Collection[str],
) -> AgentDetail:
    """One agent at `version` (default: newest); hidden agents are reported as not found."""
    row, document = await load_version(session, name, version)
    if not who.sees(document):
        raise NotFoundError(f"no agent named {name!r}; `switchboard agent list` shows them")
    agent = await session.get(AgentRecord, row.agent_id)
    assert agent is not None, "a version's agent row is kept while the version is"
    owner = await session.get(Team, agent.owner_team_id)
    card = await _card(session, catalog, who, document, owner.name if owner else "?", models)
    block = document.switchboard
    return AgentDetail(
        **card.model_dump(),
        model=block.model,
        questions=block.questions,
        limits=block.limits,
        document=row.document,
        versions=await _versions(session, agent),
    )


async def _card(
    session: AsyncSession,
    catalog: CatalogCache,
    who: Caller,
    document: AgentDocument,
    owner: str,
    models: Collection[str],
) -> AgentCard:
    block = document.switchboard
    found = await availability(session, catalog, who, document, models=models)
    return AgentCard(
        name=document.name,
        version=block.version,
        title=block.title,
        summary=block.summary,
        icon=block.icon,
        category=block.category,
        owner=owner,
        launchable=found.launchable,
        reasons=found.reasons,
        tools=found.tools,
    )


async def _versions(session: AsyncSession, agent: AgentRecord) -> list[VersionView]:
    rows = await list_versions(session, agent)
    publishers = await session.exec(
        select(User.id, User.username).where(
            col(User.id).in_({row.published_by_id for row in rows})
        )
    )
    names = dict(publishers.all())
    return [
        VersionView(
            version=row.version,
            digest=row.digest,
            published_by=names.get(row.published_by_id, "?"),
            published_at=row.published_at,
            withdrawn=row.withdrawn,
        )
        for row in rows
    ]
