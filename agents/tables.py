"""The agent catalogue's tables, and reading a published version back as a document.

A version's document is stored exactly as published; reading it back validates it again with
`parse_agent`'s rules, so every consumer (the API, the run engine) holds an `AgentDocument`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.spec import AgentDocument, agent_from_dict
from registry.errors import NotFoundError
from registry.models import UTCDateTime, utcnow


class AgentRecord(SQLModel, table=True):
    """An agent across its versions; its name never changes and is unique."""

    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    owner_team_id: int = Field(foreign_key="team.id", index=True)
    """The team that first published it; only its members (or admins) publish new versions."""
    created_by_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgentVersionRecord(SQLModel, table=True):
    """One published version; immutable once stored (apart from being withdrawn)."""

    __tablename__ = "agent_version"
    __table_args__ = (UniqueConstraint("agent_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    version: str = Field(max_length=64)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The agent document exactly as published (YAML read into JSON)."""
    digest: str = Field(max_length=64)
    """SHA-256 of the canonical JSON document: republishing the same text is a no-op."""
    published_by_id: int = Field(foreign_key="user.id")
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn: bool = Field(default=False)
    """Withdrawn versions stay for history (runs point at them) but are not launched anew."""


async def load_version(
    session: AsyncSession, name: str, version: str | None = None
) -> tuple[AgentVersionRecord, AgentDocument]:
    """Agent `name` at `version`, or its newest version not withdrawn when `version` is None."""
    agent = (await session.exec(select(AgentRecord).where(AgentRecord.name == name))).first()
    if agent is None:
        raise NotFoundError(f"no agent named {name!r}; `switchboard agent list` shows them")
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
