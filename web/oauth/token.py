"""`/oauth/token` (authorization code with PKCE, refresh with rotation) and `/oauth/revoke`.

Refresh tokens rotate on every use. A refresh token used twice means it was copied: the whole
chain (its family) is revoked, so both the thief and the client must sign in again. Access
tokens name their family (`sid`), so revoking one ends the chain it came from; the access token
itself stays valid for the few minutes it has left, as JWTs are not looked up per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from registry.models import User
from switchboard.audit.log import Event, append, append_in
from switchboard.identity.models import AuthorizationCode, RefreshToken
from switchboard.services import Services
from web.oauth.authorize import code_digest
from web.oauth.requests import resource_allowed
from web.requests import services_of

BAD_CODE = "the code is invalid, expired or already used"
BAD_REFRESH = "the refresh token is invalid, expired or revoked"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PKCE_VERIFIER_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def token_endpoint(request: Request) -> Response:
    services = services_of(request)
    try:
        async with request.form(max_files=0, max_fields=20, max_part_size=8192) as form:
            given = {key: str(value) for key, value in form.items()}
        if "client_secret" in given or request.headers.get("authorization"):
            raise InvalidClientError(description="clients here are public: send no secret")
        grant_type = given.get("grant_type")
        if grant_type == "authorization_code":
            body = await _from_code(services, given)
        elif grant_type == "refresh_token":
            body = await _from_refresh(services, given)
        else:
            raise UnsupportedGrantTypeError(grant_type or "")
    except OAuth2Error as exc:
        return _oauth_error(exc)
    return JSONResponse(body, headers=NO_STORE)


def _oauth_error(exc: OAuth2Error) -> JSONResponse:
    status = 401 if isinstance(exc, InvalidClientError) else 400
    return JSONResponse(dict(exc.get_body()), status_code=status, headers=NO_STORE)


def _required(given: dict[str, str], name: str) -> str:
    value = given.get(name)
    if not value:
        raise InvalidRequestError(description=f"`{name}` is required")
    return value


async def _from_code(services: Services, given: dict[str, str]) -> dict[str, Any]:
    client_id = _required(given, "client_id")
    code = _required(given, "code")
    verifier = _required(given, "code_verifier")
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= PKCE_VERIFIER_CHARS:
        raise InvalidGrantError(description="the code_verifier is malformed")
    row, family = await _claim_code(services, code_digest(code), client_id)
    if _aware(row.expires_at) <= datetime.now(UTC):
        raise InvalidGrantError(description=BAD_CODE)
    if given.get("redirect_uri", row.redirect_uri) != row.redirect_uri:
        raise InvalidGrantError(description="redirect_uri differs from the authorization's")
    challenge = create_s256_code_challenge(verifier)  # type: ignore[no-untyped-call]
    if not secrets.compare_digest(challenge, row.code_challenge):
        raise InvalidGrantError(description="the code_verifier does not match the challenge")
    resource = given.get("resource", row.resource).rstrip("/")
    if resource != row.resource:
        raise InvalidTargetError(description="the resource differs from the authorization's")
    async with services.transaction() as session:
        user = await _active_user(session, row.user_id)
        refresh = await _new_refresh(
            services, session, row.user_id, client_id, row.scopes, resource, family
        )
    await _audit(services, user.username, client_id, "authorization_code", row.scopes)
    return await _tokens(services, user.username, client_id, row.scopes, resource, family, refresh)


async def _claim_code(
    services: Services, code_hash: str, client_id: str
) -> tuple[AuthorizationCode, str]:
    """Mark the code used (atomically, so two racing exchanges cannot both win)."""
    family = "f_" + secrets.token_urlsafe(16)
    async with services.transaction() as session:
        row = await session.get(AuthorizationCode, code_hash)
        if row is None or row.client_id != client_id:
            raise InvalidGrantError(description=BAD_CODE)
        claimed = await session.exec(
            update(AuthorizationCode)
            .where(col(AuthorizationCode.code_hash) == code_hash)
            .where(col(AuthorizationCode.used_at).is_(None))
            .values(used_at=datetime.now(UTC), family=family)
        )
    if claimed.rowcount == 1:
        return row, family
    if row.family is not None:
        async with services.transaction() as session:
            await _revoke_family(session, row.family)
        await _audit(services, "oauth", client_id, "code_replay", [], outcome="revoked")
    raise InvalidGrantError(description=BAD_CODE)


async def _from_refresh(services: Services, given: dict[str, str]) -> dict[str, Any]:
    client_id = _required(given, "client_id")
    row = await _claim_refresh(services, _digest(_required(given, "refresh_token")), client_id)
    if _aware(row.expires_at) <= datetime.now(UTC):
        raise InvalidGrantError(description=BAD_REFRESH)
    scopes = list(row.scopes)
    if "scope" in given:
        scopes = given["scope"].split()
        if not set(scopes) <= set(row.scopes):
            raise InvalidScopeError(description="a refresh cannot widen the scopes granted")
    resource = given.get("resource", row.resource).rstrip("/")
    if resource != row.resource or not resource_allowed(services, resource):
        raise InvalidTargetError(description="the resource differs from the authorization's")
    async with services.transaction() as session:
        user = await _active_user(session, row.user_id)
        refresh = await _new_refresh(
            services, session, row.user_id, client_id, scopes, resource, row.family
        )
    await _audit(services, user.username, client_id, "refresh_token", scopes)
    return await _tokens(services, user.username, client_id, scopes, resource, row.family, refresh)


async def _claim_refresh(services: Services, token_hash: str, client_id: str) -> RefreshToken:
    """Rotate the token out; a token already rotated was copied, so its family is revoked."""
    async with services.transaction() as session:
        row = await session.get(RefreshToken, token_hash)
        if row is None or row.client_id != client_id:
            raise InvalidGrantError(description=BAD_REFRESH)
        claimed = await session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.token_hash) == token_hash)
            .where(col(RefreshToken.rotated_at).is_(None))
            .where(col(RefreshToken.revoked_at).is_(None))
            .values(rotated_at=datetime.now(UTC))
        )
    if claimed.rowcount == 1:
        return row
    async with services.transaction() as session:
        await _revoke_family(session, row.family)
    if row.revoked_at is None:
        await _audit(services, "oauth", client_id, "refresh_reuse", [], outcome="revoked")
    raise InvalidGrantError(description=BAD_REFRESH)


async def _active_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.disabled:
        raise InvalidGrantError(description="the user can no longer sign in")
    return user


async def _audit(
    services: Services,
    actor: str,
    client_id: str,
    grant: str,
    scopes: list[str],
    *,
    outcome: str = "ok",
) -> None:
    await append(
        services.sessions,
        Event(
            actor=actor,
            action="oauth_token",
            outcome=outcome,
            client=client_id,
            detail={"grant": grant, "scopes": scopes},
        ),
    )


async def _new_refresh(
    services: Services,
    session: AsyncSession,
    user_id: int,
    client_id: str,
    scopes: list[str],
    resource: str,
    family: str,
) -> str:
    token = "sbr_" + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_digest(token),
            family=family,
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            resource=resource,
            expires_at=datetime.now(UTC) + timedelta(days=services.settings.refresh_token_days),
        )
    )
    await session.flush()
    return token


async def _tokens(
    services: Services,
    username: str,
    client_id: str,
    scopes: list[str],
    resource: str,
    family: str,
    refresh: str,
) -> dict[str, Any]:
    access, lifetime = await services.tokens.issue(
        subject=username, client_id=client_id, scopes=scopes, audience=resource, family=family
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "refresh_token": refresh,
        "scope": " ".join(scopes),
    }


async def _revoke_family(session: AsyncSession, family: str) -> int:
    """How many refresh tokens this ended: none when the chain was over already."""
    result = await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.family) == family)
        .where(col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return result.rowcount


async def revoke_client_tokens(session: AsyncSession, user_id: int, client_id: str) -> None:
    """End every refresh chain a user gave a client (when they withdraw consent)."""
    await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id)
        .where(col(RefreshToken.client_id) == client_id)
        .where(col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def _audiences(services: Services) -> tuple[str, ...]:
    return (services.settings.mcp_url, services.settings.effective_public_url)


async def revoke_endpoint(request: Request) -> Response:
    """RFC 7009: always 200 for tokens we do not know, so the endpoint reveals nothing."""
    services = services_of(request)
    async with request.form(max_files=0, max_fields=10, max_part_size=8192) as form:
        token = str(form.get("token", ""))
        client_id = str(form.get("client_id", ""))
    if not token:
        return _oauth_error(InvalidRequestError(description="`token` is required"))
    async with services.transaction() as session:
        row = await session.get(RefreshToken, _digest(token))
        if row is not None and (not client_id or row.client_id == client_id):
            await _revoke_recorded(session, row.family, "refresh_token")
            return Response(status_code=200, headers=NO_STORE)
    family = await services.tokens.family_of(token, audiences=_audiences(services))
    if family is not None:
        async with services.transaction() as session:
            await _revoke_recorded(session, family, "access_token")
    return Response(status_code=200, headers=NO_STORE)


async def _revoke_recorded(session: AsyncSession, family: str, token_type: str) -> None:
    """End the chain and record it as done by whom it was issued to: whoever presents one of
    its tokens acts as them. Revoking a chain already ended changes nothing and records nothing."""
    if not await _revoke_family(session, family):
        return
    username, client_id = (
        await session.exec(
            select(User.username, RefreshToken.client_id)
            .join(User, col(User.id) == RefreshToken.user_id)
            .where(RefreshToken.family == family)
            .limit(1)
        )
    ).one()
    revoked = Event(
        actor=username,
        action="oauth_revoke",
        outcome="ok",
        client=client_id,
        detail={"token_type": token_type},
    )
    await append_in(session, [revoked])
