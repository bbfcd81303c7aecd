"""Turning an `Authorization: Bearer` value into a caller: a JWT or a personal access token.

The caller's account state, teams, grants and the catalogue revision come back from one query,
read on every request, so disabling a user or revoking a grant takes effect at once; it runs
through `Reads`, one worker-thread hop, because every request pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from registry.models import Role
from registry.visibility import STANDING_BY_NAME, Standing, standing_from_rows
from switchboard.db import Reads
from switchboard.identity.pats import looks_like_pat, resolve_pat_standing, touch_pat
from switchboard.identity.principal import Principal
from switchboard.identity.tokens import AccessTokens, InvalidTokenError

LAST_USED = timedelta(minutes=1)
"""`last_used_at` is written at most this often, so a busy token is not a write per call."""


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    standing: Standing


async def authenticate_bearer(
    reads: Reads, tokens: AccessTokens, token: str, *, audiences: tuple[str, ...]
) -> Authenticated:
    """The caller, or `InvalidTokenError` (expired, revoked, forged, or the user is disabled).

    Reads only, except for a personal token's `last_used_at`, written at most once a minute.
    """
    if looks_like_pat(token):
        pat = await resolve_pat_standing(reads, token)
        if pat is None:
            raise InvalidTokenError("unknown, revoked or expired personal access token")
        if pat.last_used_at is None or datetime.now(UTC) - pat.last_used_at > LAST_USED:
            await touch_pat(reads, pat.token_id)
        return _authenticated(
            pat.username, pat.scopes, pat.standing, credential_id=f"pat:{pat.token_id}"
        )
    claims = await tokens.verify(token, audiences=audiences)
    return await _caller(
        reads,
        claims.subject,
        claims.scopes,
        client_id=claims.client_id,
        on_behalf_of=claims.on_behalf_of,
        credential_id=claims.token_id,
    )


async def _caller(
    reads: Reads,
    username: str,
    scopes: frozenset[str],
    *,
    client_id: str | None = None,
    on_behalf_of: str | None = None,
    credential_id: str | None = None,
) -> Authenticated:
    state = standing_from_rows(await reads.rows(STANDING_BY_NAME, {"username": username}))
    if state is None or state.disabled:
        raise InvalidTokenError(f"user {username!r} is gone or disabled")
    return _authenticated(
        username,
        scopes,
        state,
        client_id=client_id,
        on_behalf_of=on_behalf_of,
        credential_id=credential_id,
    )


def _authenticated(
    username: str,
    scopes: frozenset[str],
    state: Standing,
    *,
    client_id: str | None = None,
    on_behalf_of: str | None = None,
    credential_id: str | None = None,
) -> Authenticated:
    principal = Principal(
        username=username,
        user_id=state.user_id,
        role=Role(state.role),
        scopes=scopes,
        via="oauth" if client_id is not None else "pat",
        client_id=client_id,
        on_behalf_of=on_behalf_of,
        credential_id=credential_id,
    )
    return Authenticated(principal, state)
