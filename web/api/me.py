"""`/me`: the caller, their personal access tokens and the OAuth consents they gave."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import col, delete, select
from starlette.requests import Request

from registry.errors import NotFoundError, RegistryError
from registry.models import Role
from switchboard.audit.log import Event, append_in
from switchboard.identity.accounts import get_user
from switchboard.identity.models import Consent, PersonalAccessToken
from switchboard.identity.pats import create_pat, list_pats, revoke_pat
from switchboard.identity.scopes import grantable, within_credential
from web.api.deps import principal, services
from web.api.endpoints import Endpoint
from web.auth.sessions import current_session
from web.oauth.token import revoke_client_tokens

MAX_ID_DIGITS = 18
"""Token ids are database integers (64-bit); longer digit strings name no token."""


class Me(BaseModel):
    username: str
    role: Role
    scopes: list[str]
    """What the credential of this request carries."""
    via: str
    csrf_token: str | None = None
    """For browser sessions: what unsafe requests must send as `X-CSRF-Token`."""


class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)
    expires_in_days: int = Field(default=30, ge=1, le=366)


class TokenView(BaseModel):
    id: int
    name: str
    hint: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked: bool


class NewToken(TokenView):
    token: str
    """Shown once."""


class ConsentView(BaseModel):
    client_id: str
    scopes: list[str]
    granted_at: datetime


def _view(row: PersonalAccessToken) -> TokenView:
    return TokenView(
        id=row.id or 0,
        name=row.name,
        hint=row.hint + "…",
        scopes=row.scopes,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
    )


async def me(request: Request) -> Me:
    caller = principal(request)
    signed_in = (
        await current_session(services(request), request) if caller.via == "session" else None
    )
    return Me(
        username=caller.username,
        role=caller.role,
        scopes=sorted(caller.scopes),
        via=caller.via,
        csrf_token=signed_in.csrf_token if signed_in else None,
    )


async def list_tokens(request: Request) -> list[TokenView]:
    async with services(request).sessions() as session:
        user = await get_user(session, principal(request).username)
        return [_view(row) for row in await list_pats(session, user)]


async def create_token(request: Request, body: TokenBody) -> NewToken:
    svc = services(request)
    caller = principal(request)
    async with svc.transaction() as session:
        user = await get_user(session, caller.username)
        allowed = grantable(
            await svc.catalog.visible_tools(session, caller.username), Role(user.role)
        )
        token, row = await create_pat(
            session,
            user,
            name=body.name,
            scopes=body.scopes,
            allowed=within_credential(allowed, caller.scopes, caller.via == "session"),
            expires_in=timedelta(days=body.expires_in_days),
        )
        created = Event(
            actor=caller.username,
            action="token_create",
            outcome="ok",
            target=caller.username,
            detail={"token_id": row.id, "scopes": row.scopes},
        )
        await append_in(session, [created])
    return NewToken(**_view(row).model_dump(), token=token)


async def revoke_token(request: Request, token_id: str) -> None:
    svc = services(request)
    caller = principal(request)
    if not (token_id.isascii() and token_id.isdigit() and len(token_id) <= MAX_ID_DIGITS):
        raise NotFoundError(f"no token {token_id!r}")
    async with svc.transaction() as session:
        user = await get_user(session, caller.username)
        row = await revoke_pat(session, user, int(token_id))
        revoked = Event(
            actor=caller.username,
            action="token_revoke",
            outcome="ok",
            target=caller.username,
            detail={"token_id": row.id},
        )
        await append_in(session, [revoked])


async def list_consents(request: Request) -> list[ConsentView]:
    async with services(request).sessions() as session:
        rows = await session.exec(
            select(Consent).where(Consent.user_id == principal(request).user_id)
        )
        return [
            ConsentView(client_id=r.client_id, scopes=r.scopes, granted_at=r.granted_at)
            for r in rows
        ]


async def revoke_consent(request: Request, client_id: str | None) -> None:
    """The client must ask again next time; its refresh tokens stop working at once."""
    if not client_id:
        raise RegistryError(
            "name the application: `?client_id=...`, as `GET /api/v1/me/consents` lists it"
        )
    caller = principal(request)
    async with services(request).transaction() as session:
        result = await session.exec(
            delete(Consent)
            .where(col(Consent.user_id) == caller.user_id)
            .where(col(Consent.client_id) == client_id)
        )
        if result.rowcount == 0:
            raise NotFoundError(f"you gave no consent to client {client_id!r}")
        await revoke_client_tokens(session, caller.user_id, client_id)
        withdrawn = Event(caller.username, "consent_revoke", "ok", client=client_id)
        await append_in(session, [withdrawn])


ENDPOINTS = [
    Endpoint(
        "GET",
        "/me",
        me,
        "Who you are, as this request authenticated you",
        response=Me,
        tags=("me",),
    ),
    Endpoint(
        "GET",
        "/me/tokens",
        list_tokens,
        "Your personal access tokens (never their values)",
        response=list[TokenView],
        tags=("me",),
    ),
    Endpoint(
        "POST",
        "/me/tokens",
        create_token,
        "Create a personal access token limited to scopes you hold; shown once",
        body=TokenBody,
        response=NewToken,
        status=201,
        tags=("me",),
        role=Role.developer,
    ),
    Endpoint(
        "DELETE", "/me/tokens/{token_id}", revoke_token, "Revoke one of your tokens", tags=("me",)
    ),
    Endpoint(
        "GET",
        "/me/consents",
        list_consents,
        "Applications you allowed to act as you",
        response=list[ConsentView],
        tags=("me",),
    ),
    Endpoint(
        "DELETE",
        "/me/consents",
        revoke_consent,
        "Withdraw an application's consent (and end its refresh tokens)",
        query=("client_id",),
        tags=("me",),
    ),
]
