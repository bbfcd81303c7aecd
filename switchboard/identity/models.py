"""Tables behind sign-in, OAuth and tokens. Every secret here is stored hashed or sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, String
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


def _timestamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


def _when() -> Any:
    return Field(default=None, sa_type=UTCDateTime)


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=False))


class WebSession(SQLModel, table=True):
    """A signed-in browser; the cookie holds the token, this row only its SHA-256."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64, repr=False)
    created_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_type=UTCDateTime)


class OAuthClient(SQLModel, table=True):
    """A registered client (RFC 7591) or a cached client ID metadata document."""

    __tablename__ = "oauth_client"

    client_id: str = Field(sa_column=Column(String(2048), primary_key=True))
    name: str | None = Field(default=None, max_length=200)
    redirect_uris: list[str] = _json()
    document: dict[str, Any] = _json()
    from_metadata_document: bool = Field(default=False)
    created_at: datetime = _timestamp()


class AuthorizationCode(SQLModel, table=True):
    __tablename__ = "authorization_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(sa_type=String(2048))
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    redirect_uri: str = Field(sa_type=String(2048))
    code_challenge: str = Field(max_length=128)
    scopes: list[str] = _json()
    resource: str = Field(sa_type=String(2048))
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = _when()
    family: str | None = Field(default=None, max_length=64)
    """The refresh-token family the code's exchange started: revoked if the code is replayed."""


class RefreshToken(SQLModel, table=True):
    """One link of a rotation chain; a reused link revokes its whole family."""

    __tablename__ = "refresh_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    family: str = Field(max_length=64, index=True)
    client_id: str = Field(sa_type=String(2048))
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    scopes: list[str] = _json()
    resource: str = Field(sa_type=String(2048))
    created_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rotated_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class Consent(SQLModel, table=True):
    """Scopes a user allowed a client, so the consent page is not shown every time."""

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    client_id: str = Field(sa_column=Column(String(2048), primary_key=True))
    scopes: list[str] = _json()
    granted_at: datetime = _timestamp()


class PersonalAccessToken(SQLModel, table=True):
    __tablename__ = "personal_access_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    hint: str = Field(max_length=16)
    """The token's first characters, so a person can tell their tokens apart."""
    scopes: list[str] = _json()
    created_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = _when()
    last_used_at: datetime | None = _when()


class SigningKey(SQLModel, table=True):
    """A JWT signing key; the private half is sealed with the deployment's secret key."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    sealed_private_jwk: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    public_jwk: dict[str, Any] = _json()
    created_at: datetime = _timestamp()
    retired_at: datetime | None = _when()
    """Signs nothing after this; stays in the JWKS until tokens it signed have expired."""
