"""Teams, grants, secrets and what a user can see: `/teams`, `/grants`, `/secrets`, `/tools`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request

from registry import grants, secrets
from registry.grants import GrantView
from registry.lookup import get_server
from registry.models import Role
from registry.teams import add_member, create_team, ensure_user, get_team, list_teams
from switchboard.identity.accounts import check_username
from web.api.deps import actor_name, principal, require_role, services
from web.api.endpoints import Endpoint


class TeamBody(BaseModel):
    name: str


class MemberBody(BaseModel):
    user: str = Field(min_length=1, max_length=128)


class ScopesBody(BaseModel):
    scopes: list[str] = Field(
        default_factory=list, description="`*` for every tool; tools needing no scope always"
    )


class SecretBody(BaseModel):
    value: str = Field(min_length=1, max_length=65536)


class SecretState(BaseModel):
    name: str
    stored: bool


async def list_teams_endpoint(request: Request) -> list[str]:
    async with services(request).sessions() as session:
        return [t.name for t in await list_teams(session)]


async def create_team_endpoint(request: Request, body: TeamBody) -> str:
    async with services(request).transaction() as session:
        actor = await ensure_user(session, actor_name(request))
        return (await create_team(session, body.name, actor=actor)).name


async def add_member_endpoint(request: Request, team: str, body: MemberBody) -> None:
    """The user may not have an account yet (`user create` adopts the name later), but the name
    must be one an account can have."""
    check_username(body.user)
    async with services(request).transaction() as session:
        await add_member(
            session,
            await get_team(session, team),
            await ensure_user(session, body.user),
            actor=await ensure_user(session, actor_name(request)),
        )


async def list_grants_endpoint(
    request: Request, team: str | None, server: str | None
) -> list[GrantView]:
    async with services(request).sessions() as session:
        return await grants.list_grants(
            session,
            team=await get_team(session, team) if team else None,
            server=await get_server(session, server) if server else None,
        )


async def put_grant(request: Request, team: str, server: str, body: ScopesBody) -> GrantView:
    async with services(request).transaction() as session:
        owner, target = await get_team(session, team), await get_server(session, server)
        actor = await ensure_user(session, actor_name(request))
        await grants.grant(session, owner, target, body.scopes, actor=actor)
        (view,) = await grants.list_grants(session, team=owner, server=target)
        return view


async def delete_grant(request: Request, team: str, server: str) -> None:
    async with services(request).transaction() as session:
        await grants.revoke(
            session,
            await get_team(session, team),
            await get_server(session, server),
            actor=await ensure_user(session, actor_name(request)),
        )


async def list_secrets_endpoint(request: Request, server: str) -> list[SecretState]:
    async with services(request).sessions() as session:
        target = await get_server(session, server)
        declared = await secrets.declared_secrets(session, target)
        stored = set(await secrets.secret_names(session, target))
    return [SecretState(name=n, stored=n in stored) for n in sorted(declared | stored)]


async def put_secret(request: Request, server: str, name: str, body: SecretBody) -> None:
    svc = services(request)
    async with svc.transaction() as session:
        actor = await ensure_user(session, actor_name(request))
        await secrets.set_secret(
            session, svc.secrets, await get_server(session, server), name, body.value, actor=actor
        )


async def visible_tools_endpoint(request: Request, user: str) -> list[dict[str, Any]]:
    if user != actor_name(request):
        require_role(principal(request), Role.security)
    svc = services(request)
    async with svc.sessions() as session:
        return [t.wire for t in await svc.catalog.visible_tools(session, user)]


ENDPOINTS = [
    Endpoint(
        "GET", "/teams", list_teams_endpoint, "List teams", response=list[str], tags=("access",)
    ),
    Endpoint(
        "POST",
        "/teams",
        create_team_endpoint,
        "Create a team",
        body=TeamBody,
        response=str,
        status=201,
        tags=("access",),
        role=Role.admin,
    ),
    Endpoint(
        "POST",
        "/teams/{team}/members",
        add_member_endpoint,
        "Add a user to a team",
        body=MemberBody,
        tags=("access",),
        role=Role.admin,
    ),
    Endpoint(
        "GET",
        "/grants",
        list_grants_endpoint,
        "List grants",
        response=list[GrantView],
        query=("team", "server"),
        tags=("access",),
        role=Role.security,
    ),
    Endpoint(
        "PUT",
        "/grants/{team}/{server}",
        put_grant,
        "Grant a team a server's tools up to some scopes (replaces an earlier grant)",
        body=ScopesBody,
        response=GrantView,
        tags=("access",),
        role=Role.security,
    ),
    Endpoint(
        "DELETE",
        "/grants/{team}/{server}",
        delete_grant,
        "Revoke a grant",
        tags=("access",),
        role=Role.security,
    ),
    Endpoint(
        "GET",
        "/servers/{server}/secrets",
        list_secrets_endpoint,
        "Which secrets a server needs and which are stored (never their values)",
        response=list[SecretState],
        tags=("secrets",),
        role=Role.security,
    ),
    Endpoint(
        "PUT",
        "/servers/{server}/secrets/{name}",
        put_secret,
        "Store a secret, encrypted at rest",
        body=SecretBody,
        tags=("secrets",),
        role=Role.security,
    ),
    Endpoint(
        "GET",
        "/users/{user}/tools",
        visible_tools_endpoint,
        "The tools a user can see now, as MCP `tools/list` would show them",
        response=list[dict[str, Any]],
        tags=("access",),
    ),
]
