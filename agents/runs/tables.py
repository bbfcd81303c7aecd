"""The run tables: each run of an agent, its events in order, and the approvals it waits for.

A run's displayable story lives in `agent_run_event` (redacted, streamed to people); the state
needed to resume it (the model's message history, the sensitive answers) is sealed with the
secret box, since both may hold what a person asked to keep out of history.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class RunStatus(enum.StrEnum):
    queued = "queued"
    """Waiting for a free slot (new, or approvals all decided and ready to resume)."""
    running = "running"
    waiting_approval = "waiting_approval"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"
    """The process running it stopped; the run did not finish and will not resume by itself."""


FINISHED = frozenset(
    {RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted}
)


class ApprovalStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    denied = "denied"
    void = "void"
    """The run ended (cancelled, failed) before anyone decided."""


class AgentRun(SQLModel, table=True):
    __tablename__ = "agent_run"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    agent_name: str = Field(max_length=64, index=True)
    agent_version_id: int = Field(foreign_key="agent_version.id", index=True)
    version: str = Field(max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    username: str = Field(max_length=128)
    status: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Why the run stopped, failed or waits, in words a person can act on."""
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The launch form's answers, sensitive ones left out."""
    sealed_answers: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    """The sensitive answers, sealed to this run."""
    sealed_history: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    """The model's message history at the last pause or stop, sealed to this run."""
    pending_calls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Tool call ids the paused run waits on."""
    usage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    output: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    active_seconds: float = 0.0
    """Time spent running (not waiting for people); the wall-time limit counts this."""
    event_seq: int = 0
    """The last event's sequence number."""
    runner: str | None = Field(default=None, max_length=32)
    """The process running it now."""
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RunEvent(SQLModel, table=True):
    __tablename__ = "agent_run_event"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="agent_run.id", max_length=32, ondelete="CASCADE")
    """Indexed by the unique (run, seq) pair."""
    seq: int
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=32)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class RunApproval(SQLModel, table=True):
    __tablename__ = "agent_run_approval"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="agent_run.id", max_length=32, index=True, ondelete="CASCADE")
    tool_call_id: str = Field(max_length=200)
    tool: str = Field(max_length=200)
    arguments: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """As the model gave them, sensitive answers redacted."""
    status: str = Field(default=ApprovalStatus.pending, max_length=16)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
