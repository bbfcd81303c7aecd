"""Grants: which teams may use which servers, and with which scopes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.errors import NotFoundError, RegistryError
from registry.journal import note
from registry.models import Grant, Server, ServerVersion, Team, Tool, User, pk, utcnow

ALL_TOOLS = "*"


class GrantView(BaseModel):
    team: str
    server: str
    slug: str
    scopes: list[str]
    granted_by: str
    granted_at: datetime


async def known_scopes(session: AsyncSession, server: Server) -> set[str]:
    """Every scope any version of the server's tools or policy mentions."""
    tool_scopes = await session.exec(
        select(Tool.scopes)
        .join(ServerVersion, col(ServerVersion.id) == Tool.version_id)
        .where(ServerVersion.server_id == pk(server))
    )
    policies = await session.exec(
        select(ServerVersion.policy).where(ServerVersion.server_id == pk(server))
    )
    scopes = {scope for row in tool_scopes for scope in row}
    for policy in policies:
        scopes |= {s for names in policy.get("toolScopes", {}).values() for s in names}
    return scopes


async def grant(
    session: AsyncSession, team: Team, server: Server, scopes: list[str], *, actor: User
) -> Grant:
    """Give a team a server's tools needing at most `scopes`; replaces an earlier grant."""
    requested = sorted(set(scopes))
    unknown = set(requested) - await known_scopes(session, server) - {ALL_TOOLS}
    if unknown:
        known = sorted(await known_scopes(session, server))
        raise RegistryError(
            f"{server.name} has no scope {', '.join(sorted(unknown))}; "
            f"its scopes are: {', '.join(known) or 'none'} (or `*` for every tool)"
        )
    row = (
        await session.exec(
            select(Grant).where(Grant.team_id == pk(team), Grant.server_id == pk(server))
        )
    ).first()
    if row is None:
        row = Grant(
            team_id=pk(team), server_id=pk(server), scopes=requested, granted_by_id=pk(actor)
        )
    else:
        row.scopes, row.granted_by_id, row.granted_at = requested, pk(actor), utcnow()
    session.add(row)
    await revision.bump(session)
    await session.flush()
    note(session, actor.username, "grant.set", f"{team.name}/{server.slug}", scopes=requested)
    return row


async def revoke(
    session: AsyncSession, team: Team, server: Server, *, actor: User | None = None
) -> None:
    row = (
        await session.exec(
            select(Grant).where(Grant.team_id == pk(team), Grant.server_id == pk(server))
        )
    ).first()
    if row is None:
        raise NotFoundError(f"team {team.name!r} has no grant on {server.name}")
    await session.delete(row)
    await revision.bump(session)
    await session.flush()
    who = actor.username if actor is not None else "switchboard"
    note(session, who, "grant.revoke", f"{team.name}/{server.slug}")


async def list_grants(
    session: AsyncSession, *, team: Team | None = None, server: Server | None = None
) -> list[GrantView]:
    query = (
        select(Grant, Team, Server, User)
        .join(Team, col(Team.id) == Grant.team_id)
        .join(Server, col(Server.id) == Grant.server_id)
        .join(User, col(User.id) == Grant.granted_by_id)
        .order_by(col(Team.name), col(Server.name))
    )
    if team is not None:
        query = query.where(Grant.team_id == pk(team))
    if server is not None:
        query = query.where(Grant.server_id == pk(server))
    return [
        GrantView(
            team=t.name,
            server=s.name,
            slug=s.slug,
            scopes=g.scopes,
            granted_by=u.username,
            granted_at=g.granted_at,
        )
        for g, t, s, u in await session.exec(query)
    ]
