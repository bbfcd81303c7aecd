"""The catalogue's tables. Alembic migrations in `switchboard/migrations` create them."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Column, DateTime, Dialect, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored and read back in UTC with its offset on every database: SQLite keeps
    no offset, so it stored an aware time's wall clock and returned naive times that clients
    read as their own local time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


def _json(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class ReviewStatus(enum.StrEnum):
    building = "building"
    """Published; the sandbox image is being built and its tools discovered."""
    failed = "failed"
    """The build or the first start failed; `build_log` says why. Publish a fixed version."""
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    quarantined = "quarantined"


class ServerKind(enum.StrEnum):
    mcp = "mcp"
    openapi = "openapi"


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = _timestamp()


class Role(enum.StrEnum):
    """What a person may do; each role includes the ones below it."""

    user = "user"
    developer = "developer"
    security = "security"
    admin = "admin"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    display_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = _timestamp()
    role: Role = Field(default=Role.user, sa_type=String(16))
    password_hash: str | None = Field(default=None, max_length=255, repr=False)
    """argon2id; `None` for accounts that sign in only through single sign-on, or not at all."""
    disabled: bool = Field(default=False)
    failed_signins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    external_subject: str | None = Field(
        default=None, sa_column=Column(String(512), unique=True, nullable=True)
    )
    """`issuer|sub` of the single sign-on identity linked to this account."""


class Membership(SQLModel, table=True):
    team_id: int = Field(foreign_key="team.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")


class Server(SQLModel, table=True):
    """A tool server across its versions; `slug` prefixes its tools on the MCP endpoint."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    slug: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    kind: ServerKind = Field(sa_type=String(16))
    owner_team_id: int = Field(foreign_key="team.id", index=True)
    live_version_id: int | None = Field(default=None, index=True)
    """The version callers get: the one approved most recently (no FK: versions point here)."""
    created_at: datetime = _timestamp()


class ServerVersion(SQLModel, table=True):
    __tablename__ = "server_version"
    __table_args__ = (UniqueConstraint("server_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    server_id: int = Field(foreign_key="server.id", index=True, ondelete="CASCADE")
    version: str = Field(max_length=255)
    description: str = Field(default="", max_length=2000)
    status: ReviewStatus = Field(default=ReviewStatus.pending, sa_type=String(16), index=True)
    document: dict[str, Any] = _json()
    """The manifest or OpenAPI document exactly as published."""
    policy: dict[str, Any] = _json()
    tools_digest: str | None = Field(default=None, max_length=80)
    build_log: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Output of the image build and the first start, kept when they fail."""
    published_by_id: int = Field(foreign_key="user.id")
    published_at: datetime = _timestamp()
    reviewed_by_id: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_reason: str | None = Field(default=None, max_length=2000)


class Tool(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="server_version.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=128)
    definition: dict[str, Any] = _json()
    """The tool as MCP lists it (name, title, description, schemas, annotations)."""
    scopes: list[str] = _json()
    binding: dict[str, Any] | None = _json(nullable=True)


class ReviewEvent(SQLModel, table=True):
    """Append-only history of every review decision, for the audit trail and the web page."""

    __tablename__ = "review_event"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="server_version.id", index=True, ondelete="CASCADE")
    from_status: ReviewStatus | None = Field(default=None, sa_type=String(16))
    to_status: ReviewStatus = Field(sa_type=String(16))
    actor_id: int = Field(foreign_key="user.id")
    reason: str | None = Field(default=None, max_length=2000)
    at: datetime = _timestamp()


class Grant(SQLModel, table=True):
    """A team may use a server's tools that need at most `scopes` (`*`: every tool)."""

    __table_args__ = (UniqueConstraint("team_id", "server_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True, ondelete="CASCADE")
    server_id: int = Field(foreign_key="server.id", index=True, ondelete="CASCADE")
    scopes: list[str] = _json()
    granted_by_id: int = Field(foreign_key="user.id")
    granted_at: datetime = _timestamp()


class Secret(SQLModel, table=True):
    """A server's credential, AES-GCM encrypted with the key in `SWITCHBOARD_SECRET_KEY_FILE`."""

    __table_args__ = (UniqueConstraint("server_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    server_id: int = Field(foreign_key="server.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=128)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_by_id: int = Field(foreign_key="user.id")
    updated_at: datetime = _timestamp()


class CatalogRevision(SQLModel, table=True):
    """One row counting changes to what callers can see, so every replica knows when to reload."""

    __tablename__ = "catalog_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = Field(default=0)


class _HasId(Protocol):
    id: int | None


def pk(row: _HasId) -> int:
    """The primary key of a row the session has flushed."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet; flush the session first")
    return row.id
