"""Turning an `Authorization: Bearer` value into a `Principal`: a JWT or a personal token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import Role, User, pk
from switchboard.identity.accounts import find_user
from switchboard.identity.pats import looks_like_pat, resolve_pat
from switchboard.identity.principal import Principal, Via
from switchboard.identity.tokens import AccessTokens, InvalidTokenError

LAST_USED = timedelta(minutes=1)
"""`last_used_at` is written at most this often, so a busy token is not a write per call."""


async def authenticate_bearer(
    session: AsyncSession, tokens: AccessTokens, token: str, *, audiences: tuple[str, ...]
) -> Principal:
    """The caller, or `InvalidTokenError` (expired, revoked, forged, or the user is disabled).

    Reads only, except for a personal token's `last_used_at`, committed when it is written.
    """
    if looks_like_pat(token):
        found = await resolve_pat(session, token)
        if found is None:
            raise InvalidTokenError("unknown, revoked or expired personal access token")
        pat, user = found
        now = datetime.now(UTC)
        last = pat.last_used_at
        if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > LAST_USED:
            pat.last_used_at = now
            session.add(pat)
            await session.commit()
        return _principal(user, frozenset(pat.scopes), "pat", credential_id=f"pat:{pat.id}")
    claims = await tokens.verify(token, audiences=audiences)
    holder = await find_user(session, claims.subject)
    if holder is None or holder.disabled:
        raise InvalidTokenError(f"user {claims.subject!r} is gone or disabled")
    return _principal(
        holder,
        claims.scopes,
        "oauth",
        client_id=claims.client_id,
        on_behalf_of=claims.on_behalf_of,
        credential_id=claims.token_id,
    )


def _principal(
    user: User,
    scopes: frozenset[str],
    via: Via,
    **extra: str | None,
) -> Principal:
    return Principal(
        username=user.username,
        user_id=pk(user),
        role=Role(user.role),
        scopes=scopes,
        via=via,
        **extra,
    )
