"""Server-side web sessions: the cookie holds a random token, the database its SHA-256.

Server-side rows (not signed cookies) so that signing out, disabling a user or a replica
restart all end sessions at once, on every replica.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, delete, select
from starlette.requests import Request
from starlette.responses import Response

from registry.models import User, pk
from switchboard.identity.models import WebSession
from switchboard.services import Services
from switchboard.settings import Settings


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf_token: str


def cookie_name(settings: Settings) -> str:
    """`__Host-` binds the cookie to this exact origin, but browsers accept it only over HTTPS."""
    return "__Host-switchboard" if settings.secure_cookies else "switchboard"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(services: Services, user: User, response: Response) -> str:
    """Create a session for `user`, set its cookie on `response`; returns the CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = timedelta(hours=services.settings.session_hours)
    async with services.transaction() as session:
        session.add(
            WebSession(
                token_hash=_digest(token),
                user_id=pk(user),
                csrf_token=csrf,
                expires_at=datetime.now(UTC) + lifetime,
            )
        )
        await session.exec(delete(WebSession).where(col(WebSession.expires_at) < datetime.now(UTC)))
    response.set_cookie(
        cookie_name(services.settings),
        token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        secure=services.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return csrf


async def current_session(services: Services, request: Request) -> SignedIn | None:
    token = request.cookies.get(cookie_name(services.settings))
    if not token or len(token) > 128:
        return None
    async with services.sessions() as session:
        row = (
            await session.exec(
                select(WebSession, User)
                .join(User, col(User.id) == WebSession.user_id)
                .where(WebSession.token_hash == _digest(token))
            )
        ).first()
    if row is None:
        return None
    web_session, user = row
    expires = web_session.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC) or user.disabled:
        return None
    return SignedIn(user, web_session.csrf_token)


async def end_session(services: Services, request: Request, response: Response) -> None:
    token = request.cookies.get(cookie_name(services.settings))
    if token:
        async with services.transaction() as session:
            await session.exec(
                delete(WebSession).where(col(WebSession.token_hash) == _digest(token))
            )
    response.delete_cookie(
        cookie_name(services.settings),
        path="/",
        secure=services.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
