"""The first step of every `/mcp` request: who is calling, proven by a bearer token.

No token, or one that fails any check, gets 401 with a challenge naming the protected resource
metadata; a valid token that carries no scope usable here gets 403 `insufficient_scope`.
The caller, and the tools their teams are granted now, are left in the ASGI scope for the steps
after this one; grants are re-read on every request, so a revoke takes effect at once.
"""

from __future__ import annotations

import logging

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.visibility import IndexedTool
from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import MCP, reaches_mcp
from switchboard.identity.tokens import InvalidTokenError
from switchboard.services import Services
from toolhost.protected_resource import challenge

PRINCIPAL = "switchboard.principal"
GRANTED = "switchboard.granted"
"""The caller's granted tools, read with the credential check in one database session."""
logger = logging.getLogger(__name__)


def principal_of(scope: Scope) -> Principal:
    principal: Principal = scope[PRINCIPAL]
    return principal


def granted_of(scope: Scope) -> list[IndexedTool]:
    granted: list[IndexedTool] = scope[GRANTED]
    return granted


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
            return None
    return None


class RequireBearer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        settings = services.settings
        token = bearer_token(scope)
        if token is None:
            await _refuse(401, challenge(settings), "authentication required", scope, receive, send)
            return
        try:
            async with services.sessions() as session:
                caller = await authenticate_bearer(
                    session, services.tokens, token, audiences=(settings.mcp_url,)
                )
                index = await services.catalog.index(session, caller.standing.revision)
        except InvalidTokenError as exc:
            logger.info("refused a bearer token: %s", exc)
            value = challenge(settings, error="invalid_token")
            await _refuse(401, value, "the access token is invalid", scope, receive, send)
            return
        principal = caller.principal
        if not reaches_mcp(principal.scopes):
            value = challenge(settings, error="insufficient_scope", scope=MCP)
            await _refuse(403, value, "the token lacks the `mcp` scope", scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        scope[GRANTED] = index.visible(caller.standing.grants)
        scope["user"] = _sdk_user(principal, token, settings.effective_public_url)
        await self.app(scope, receive, send)


def _sdk_user(principal: Principal, token: str, issuer: str) -> AuthenticatedUser:
    """The SDK's view of the caller, which it uses to bind each MCP session to its creator."""
    return AuthenticatedUser(
        AccessToken(
            token=token,
            client_id=principal.client_id or principal.credential_id or principal.via,
            scopes=sorted(principal.scopes),
            subject=principal.username,
            claims={"iss": issuer},
        )
    )


async def _refuse(
    status: int, www_authenticate: str, message: str, scope: Scope, receive: Receive, send: Send
) -> None:
    response = JSONResponse(
        {"error": message}, status_code=status, headers={"WWW-Authenticate": www_authenticate}
    )
    await response(scope, receive, send)
