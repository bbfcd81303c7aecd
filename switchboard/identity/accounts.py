"""Local accounts: creation, roles, disabling, and password sign-in with lockout."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import ConflictError, NotFoundError, RegistryError
from registry.models import Role, User
from registry.teams import add_member, ensure_team
from switchboard.identity.passwords import hash_password, verify_password
from switchboard.settings import Settings

USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
SIGN_IN_FAILED = "wrong user name or password, or the account is disabled or locked"
"""The only sign-in error anyone sees: it must not reveal which of these it was."""


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise RegistryError(
            f"user name {username!r} is invalid: use 1-128 letters, digits, `.`, `_`, `@` or `-`"
        )
    return username


def parse_role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise RegistryError(f"role {name!r} does not exist; choose one of: {choices}") from None


async def find_user(session: AsyncSession, username: str) -> User | None:
    return (await session.exec(select(User).where(User.username == username))).first()


async def get_user(session: AsyncSession, username: str) -> User:
    user = await find_user(session, username)
    if user is None:
        raise NotFoundError(f"user {username!r} does not exist; see `switchboard user list`")
    return user


async def create_user(
    session: AsyncSession,
    username: str,
    *,
    role: Role,
    password: str | None,
    display_name: str | None = None,
) -> User:
    """A new account; an existing name that only ever appeared as an actor is adopted."""
    check_username(username)
    user = await find_user(session, username)
    if user is not None and (user.password_hash or user.external_subject):
        raise ConflictError(f"user {username!r} already exists")
    if user is None:
        user = User(username=username)
    user.role, user.display_name = role, display_name or user.display_name
    user.password_hash = await hash_password(password) if password is not None else None
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.username)))).all())


async def set_disabled(session: AsyncSession, username: str, disabled: bool) -> User:
    user = await get_user(session, username)
    user.disabled = disabled
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, username: str, password: str) -> User:
    user = await get_user(session, username)
    user.password_hash = await hash_password(password)
    user.failed_signins, user.locked_until = 0, None
    session.add(user)
    await session.flush()
    return user


async def sign_in(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout: timedelta,
) -> User | None:
    """The user, or `None`; `max_failures` wrong passwords in a row lock the account.

    Returns rather than raises on failure, so the caller's transaction keeps the failure count.
    """
    user = await find_user(session, username) if USERNAME.match(username) else None
    now = datetime.now(UTC)
    correct = await verify_password(user.password_hash if user else None, password)
    if user is None:
        return None
    locked = user.locked_until is not None and _aware(user.locked_until) > now
    if user.disabled or locked:
        return None
    if not correct:
        user.failed_signins += 1
        if user.failed_signins >= max_failures:
            user.locked_until, user.failed_signins = now + lockout, 0
        session.add(user)
        await session.flush()
        return None
    user.failed_signins, user.locked_until = 0, None
    session.add(user)
    await session.flush()
    return user


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def at_least_role(held: Role, needed: Role) -> bool:
    """Roles are ordered: an admin may do what security may, and so on down to user."""
    order = list(Role)
    return order.index(held) >= order.index(needed)


async def ensure_first_admin(session: AsyncSession, settings: Settings) -> str | None:
    """Create the first admin when there is none; returns its password, `None` if one existed."""
    existing = await session.exec(select(User).where(User.role == Role.admin).limit(1))
    if existing.first() is not None:
        return None
    given = settings.admin_password
    password = given.get_secret_value() if given is not None else secrets.token_urlsafe(18)
    user = await find_user(session, settings.admin_username)
    if user is None:
        await create_user(session, settings.admin_username, role=Role.admin, password=password)
    else:
        user.role, user.password_hash = Role.admin, await hash_password(password)
        session.add(user)
    await add_member(
        session,
        await ensure_team(session, settings.default_team),
        await get_user(session, settings.admin_username),
    )
    return password
