"""Reading a published agent version back as a document.

A version's document is stored exactly as published; reading it back validates it again with
`parse_agent`'s rules, so every consumer (the API, the run engine) holds an `AgentDocument`.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.spec import AgentDocument, agent_from_dict
from agents.tables import AgentRecord, AgentVersionRecord
from registry.errors import NotFoundError


async def find_agent(session: AsyncSession, name: str) -> AgentRecord | None:
    return (await session.exec(select(AgentRecord).where(AgentRecord.name == name))).first()


async def get_agent(session: AsyncSession, name: str) -> AgentRecord:
    agent = await find_agent(session, name)
    if agent is None:
        raise NotFoundError(f"no agent named {name!r}; `switchboard agent list` shows them")
    return agent


async def load_version(
    session: AsyncSession, name: str, version: str | None = None
) -> tuple[AgentVersionRecord, AgentDocument]:
    """Agent `name` at `version`, or its newest version not withdrawn when `version` is None."""
    agent = await get_agent(session, name)
    query = select(AgentVersionRecord).where(AgentVersionRecord.agent_id == agent.id)
    if version is not None:
        row = (await session.exec(query.where(AgentVersionRecord.version == version))).first()
        if row is None:
            raise NotFoundError(f"agent {name!r} has no version {version!r}")
    else:
        newest = query.where(col(AgentVersionRecord.withdrawn).is_(False))
        row = (await session.exec(newest.order_by(col(AgentVersionRecord.id).desc()))).first()
        if row is None:
            raise NotFoundError(f"agent {name!r} has no version that may be launched")
    return row, agent_from_dict(row.document, f"{name}@{row.version}")
