"""The audit log's one table: append-only, each record hashing the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=128, index=True)
    on_behalf_of: str | None = Field(default=None, max_length=128)
    client: str | None = Field(default=None, sa_type=String(2048))
    action: str = Field(max_length=64, index=True)
    target: str | None = Field(default=None, max_length=512)
    outcome: str = Field(max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    """Unique, so two writers that raced for the same predecessor cannot both append."""
    hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))


class AuditSeal(SQLModel, table=True):
    """A keyed attestation that the chain once ended at `seq` with `hash`.

    A hash chain alone cannot show that its newest records were deleted, nor that the whole
    chain was recomputed after an edit. A seal can, because only a holder of the deployment's
    secret key can make one: `verify` fails when the chain no longer reaches a sealed record
    with the sealed hash. Append-only, like the records."""

    __tablename__ = "audit_seal"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True)
    hash: str = Field(max_length=64)
    sealed_at: datetime = Field(sa_type=UTCDateTime)
    mac: str = Field(max_length=64)
