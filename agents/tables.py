"""The agent catalogue's tables.

They import no agent machinery (pydantic-ai), since every process that migrates the database
imports them; `agents.versions` reads a stored document back as an `AgentDocument`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class AgentRecord(SQLModel, table=True):
    """An agent across its versions; its name never changes and is unique."""

    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    owner_team_id: int = Field(foreign_key="team.id", index=True)
    """The team that first published it; over the API only its members (or admins) publish
    new versions or withdraw them, except in the default team (`web.api.deps`)."""
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
