"""Personal access tokens for scripts and CI: shown once, stored as a SHA-256, revocable.

The tokens are 256 random bits, so a plain SHA-256 is the right hash: nothing to brute-force,
and lookup stays one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import NotFoundError, RegistryError
from registry.models import User, pk
from registry.visibility import STANDING_COLUMNS, Standing, standing_from_rows, standing_select
from switchboard.db import Reads
from switchboard.identity.models import PersonalAccessToken

PREFIX = "sbp_"
MAX_DAYS = 366


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_pat(token: str) -> bool:
    return token.startswith(PREFIX)


async def create_pat(
    session: AsyncSession,
    user: User,
    *,
    name: str,
    scopes: list[str],
    allowed: set[str],
    expires_in: timedelta,
) -> tuple[str, PersonalAccessToken]:
    """A new token limited to `scopes`, each of which must be in `allowed` (the user's grants)."""
    if not name.strip() or len(name) > 100:
        raise RegistryError("a token needs a name of 1-100 characters, such as `ci-nightly`")
    if not scopes:
        raise RegistryError("give the token at least one scope, such as `--scope mcp`")
    beyond = sorted(set(scopes) - allowed)
    if beyond:
        raise RegistryError(
            f"you cannot give a token {', '.join(beyond)}: it is not among your grants "
            f"({', '.join(sorted(allowed))})"
        )
    if not timedelta(minutes=5) <= expires_in <= timedelta(days=MAX_DAYS):
        raise RegistryError(f"a token must expire after 5 minutes to {MAX_DAYS} days")
    token = PREFIX + secrets.token_urlsafe(32)
    row = PersonalAccessToken(
        user_id=pk(user),
        name=name.strip(),
        token_hash=digest(token),
        hint=token[:10],
        scopes=sorted(set(scopes)),
        expires_at=datetime.now(UTC) + expires_in,
    )
    session.add(row)
    await session.flush()
    return token, row


async def list_pats(session: AsyncSession, user: User) -> list[PersonalAccessToken]:
    rows = await session.exec(
        select(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == pk(user))
        .order_by(col(PersonalAccessToken.created_at))
    )
    return list(rows.all())


async def revoke_pat(session: AsyncSession, user: User, token_id: int) -> PersonalAccessToken:
    row = await session.get(PersonalAccessToken, token_id)
    if row is None or row.user_id != pk(user):
        raise NotFoundError(
            f"{user.username} has no token {token_id}; see `switchboard token list`"
        )
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        await session.flush()
    return row


_PAT_STANDING = (
    standing_select(
        col(PersonalAccessToken.id),
        col(PersonalAccessToken.scopes),
        col(PersonalAccessToken.expires_at),
        col(PersonalAccessToken.revoked_at),
        col(PersonalAccessToken.last_used_at),
        col(User.username),
    )
    .join(PersonalAccessToken, col(PersonalAccessToken.user_id) == User.id)
    .where(col(PersonalAccessToken.token_hash) == sa.bindparam("token_hash"))
)
"""Built once: composing a statement costs more than SQLite takes to run it."""


@dataclass(frozen=True)
class ResolvedPat:
    token_id: int
    username: str
    scopes: frozenset[str]
    last_used_at: datetime | None
    standing: Standing


async def resolve_pat_standing(reads: Reads, token: str) -> ResolvedPat | None:
    """The live token with its user's standing, in one query; `None` for unknown, revoked or
    expired tokens and disabled users."""
    rows = await reads.rows(_PAT_STANDING, {"token_hash": digest(token)})
    state = standing_from_rows(rows)
    if state is None or state.disabled:
        return None
    token_id, scopes, expires, revoked, last_used, username = rows[0][STANDING_COLUMNS:]
    if revoked is not None or _aware(expires) <= datetime.now(UTC):
        return None
    last = _aware(last_used) if last_used is not None else None
    return ResolvedPat(token_id, username, frozenset(scopes), last, state)


_TOUCH = (
    sa.update(PersonalAccessToken)
    .where(col(PersonalAccessToken.id) == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("now"))
)


async def touch_pat(reads: Reads, token_id: int) -> None:
    await reads.write(_TOUCH, {"token_id": token_id, "now": datetime.now(UTC)})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
