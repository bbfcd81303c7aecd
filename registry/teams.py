"""Teams and the users who act on the catalogue (identity proper comes with sign-in).

Creating a team and adding a member are journalled (`registry.journal`): membership decides which
tools a user sees. Only a change is noted, so `ensure_team` on an existing team and `add_member`
for a member already in it leave no record; without an `actor`, Switchboard itself made the
change (the first admin's default team, a sign-on's teams claim)."""

from __future__ import annotations

import re

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import ConflictError, NotFoundError, RegistryError
from registry.journal import note
from registry.models import Membership, Team, User, pk

_TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SYSTEM_ACTOR = "switchboard"


async def create_team(session: AsyncSession, name: str, *, actor: User | None = None) -> Team:
    if not _TEAM_NAME.match(name):
        raise RegistryError(
            f"team name {name!r} is invalid: use 1-64 lowercase letters, digits, `-` or `_`"
        )
    if await find_team(session, name) is not None:
        raise ConflictError(f"team {name!r} already exists")
    team = Team(name=name)
    session.add(team)
    await session.flush()
    note(session, _who(actor), "team.create", name)
    return team


async def ensure_team(session: AsyncSession, name: str) -> Team:
    return await find_team(session, name) or await create_team(session, name)


async def find_team(session: AsyncSession, name: str) -> Team | None:
    return (await session.exec(select(Team).where(Team.name == name))).first()


async def get_team(session: AsyncSession, name: str) -> Team:
    team = await find_team(session, name)
    if team is None:
        raise NotFoundError(
            f"team {name!r} does not exist; create it with `switchboard team create {name}`"
        )
    return team


async def list_teams(session: AsyncSession) -> list[Team]:
    return list((await session.exec(select(Team).order_by(Team.name))).all())


async def ensure_user(session: AsyncSession, username: str) -> User:
    """The acting user, recorded on first use so every change names who made it."""
    user = (await session.exec(select(User).where(User.username == username))).first()
    if user is None:
        user = User(username=username)
        session.add(user)
        await session.flush()
    return user


async def is_member(session: AsyncSession, team: Team, user: User) -> bool:
    return await session.get(Membership, (pk(team), pk(user))) is not None


async def add_member(
    session: AsyncSession, team: Team, user: User, *, actor: User | None = None
) -> None:
    if not await is_member(session, team, user):
        session.add(Membership(team_id=pk(team), user_id=pk(user)))
        await session.flush()
        note(session, _who(actor), "team.member.add", f"{team.name}/{user.username}")


def _who(actor: User | None) -> str:
    return actor.username if actor is not None else SYSTEM_ACTOR
