"""What handlers take from the request: the services and who is acting.

`/api/v1` accepts a bearer token (a personal access token or an OAuth access token carrying
the `api` scope) or a signed-in browser session; a session's unsafe requests must also carry
its CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from registry.models import Role, Team, User
from registry.teams import ensure_user, get_team, is_member
from switchboard.identity.accounts import at_least_role
from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.errors import ForbiddenError, SignInError
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import API, BASE_SCOPES
from switchboard.identity.tokens import InvalidTokenError
from toolhost.authentication import bearer_token
from web.auth import csrf
from web.auth.sessions import current_session
from web.requests import services_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


services = services_of


async def authenticate(request: Request) -> Principal:
    svc = services(request)
    settings = svc.settings
    token = bearer_token(request.scope)
    if token is not None:
        try:
            caller = await authenticate_bearer(
                svc.reads,
                svc.tokens,
                token,
                audiences=(settings.effective_public_url, settings.mcp_url),
            )
        except InvalidTokenError:
            raise SignInError("the bearer token is invalid, expired or revoked") from None
        principal = caller.principal
        if API not in principal.scopes:
            raise ForbiddenError("the token lacks the `api` scope this API needs")
        return principal
    signed_in = await current_session(svc, request)
    if signed_in is None:
        raise SignInError(
            "sign in first: send `Authorization: Bearer <token>` (see `switchboard token "
            "create`) or use a signed-in browser session"
        )
    if request.method not in SAFE_METHODS and not (
        csrf.same_origin(request, settings)
        and csrf.matches(signed_in.csrf_token, request.headers.get(csrf.HEADER))
    ):
        raise ForbiddenError("this request needs the session's CSRF token in `X-CSRF-Token`")
    user = signed_in.user
    return Principal(
        username=user.username,
        user_id=user.id or 0,
        role=Role(user.role),
        scopes=frozenset(BASE_SCOPES),
        via="session",
    )


def require_role(principal: Principal, role: Role) -> None:
    if not at_least_role(principal.role, role):
        raise ForbiddenError(
            f"this needs the {role.value} role; {principal.username} is a {principal.role.value}"
        )


async def acting_for_team(request: Request, session: AsyncSession, team: Team) -> User:
    """The caller, once it is known they may publish for `team` or withdraw what it owns: its
    members and admins may. The default team owns what was published without naming a team,
    so anyone who may publish may publish there.
    """
    who = principal(request)
    actor = await ensure_user(session, who.username)
    if who.role == Role.admin or team.name == services(request).settings.default_team:
        return actor
    if not await is_member(session, team, actor):
        raise ForbiddenError(
            f"{who.username} is not a member of team {team.name!r}, so cannot publish or "
            f"withdraw for it; an admin can add them (`switchboard team add {team.name} "
            f"{who.username}`)"
        )
    return actor


async def publishing_team(
    request: Request, session: AsyncSession, team: str | None
) -> tuple[Team, User]:
    """The team named (or the default team) and the caller publishing for it."""
    owner = await get_team(session, team or services(request).settings.default_team)
    return owner, await acting_for_team(request, session, owner)


def principal(request: Request) -> Principal:
    """The caller, as `Endpoint` authenticated them before calling the handler."""
    result: Principal = request.state.principal
    return result


def actor_name(request: Request) -> str:
    return principal(request).username
