"""The routed model layer's tables: usage records, the API-edited model file, model secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class ModelUsage(SQLModel, table=True):
    """One completed model call: who it is charged to and what the provider reported using."""

    __tablename__ = "model_usage"
    __table_args__ = (Index("ix_model_usage_team_at", "team", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    alias: str = Field(max_length=128)
    deployment: str = Field(max_length=128)
    provider: str = Field(max_length=32)
    model: str = Field(max_length=256)
    user: str = Field(max_length=128, index=True)
    team: str = Field(max_length=64)
    run_id: str | None = Field(default=None, max_length=64, index=True)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    estimated: bool = False
    """The provider reported no usage; tokens were estimated from the text's length."""
    streamed: bool = False
    latency_ms: float = 0.0


class ModelConfigDocument(SQLModel, table=True):
    """The model file as last replaced through the API (one row); it wins over the file."""

    __tablename__ = "model_config"

    id: int | None = Field(default=None, primary_key=True)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    revision: int = 1
    updated_by: str = Field(max_length=128)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ModelSecret(SQLModel, table=True):
    """A provider API key, AES-GCM sealed like server secrets; deployments name it."""

    __tablename__ = "model_secret"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_by: str = Field(max_length=128)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
