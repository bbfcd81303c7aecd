"""The first step of every `/mcp` request: who is calling, proven by a bearer token.

No token, or one that fails any check, gets 401 with a challenge naming the protected resource
metadata; a valid token that carries no scope usable here gets 403 `insufficient_scope`.
The caller, and the tools their teams are granted now, are left in the ASGI scope for the steps
after this one; grants are re-read on every request, so a revoke takes effect at once.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.visibility import IndexedTool
from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import (
    MCP,
    effective_tools,
    reaches_mcp,
    required_scope,
    token_allows,
)
from switchboard.identity.tokens import InvalidTokenError
from switchboard.services import Services
from toolhost.protected_resource import challenge

REQUEST_SCOPE: ContextVar[Scope | None] = ContextVar("switchboard_request_scope", default=None)
"""The authenticated request's ASGI scope, for SDK hooks that are handed only a name."""
PRINCIPAL = "switchboard.principal"
GRANTED = "switchboard.granted"
"""The caller's granted tools, read with the credential check in one database session."""
USABLE = "switchboard.usable"
REVISION = "switchboard.revision"
"""The catalogue revision the caller's tools were read at."""
logger = logging.getLogger(__name__)


def principal_of(scope: Scope) -> Principal:
    principal: Principal = scope[PRINCIPAL]
    return principal


def revision_of(scope: Scope) -> int:
    revision: int = scope[REVISION]
    return revision


def granted_of(scope: Scope) -> list[IndexedTool]:
    granted: list[IndexedTool] = scope[GRANTED]
    return granted


def usable_tools(scope: Scope) -> dict[str, IndexedTool]:
    """The caller's granted tools narrowed by the token's scopes, by catalogue name (in
    catalogue order); worked out once per request, however many steps ask."""
    usable: dict[str, IndexedTool] | None = scope.get(USABLE)
    if usable is None:
        tools = effective_tools(granted_of(scope), principal_of(scope).scopes)
        usable = scope[USABLE] = {tool.name: tool for tool in tools}
    return usable


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
            caller = await authenticate_bearer(
                services.reads, services.tokens, token, audiences=(settings.mcp_url,)
            )
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
        index = await services.catalog.at(services.sessions, caller.standing.revision)
        granted = index.visible(caller.standing.grants)
        if scope["method"] == "POST":
            body = await read_body(scope, receive, settings.max_request_bytes)
            if body is None:
                too_large = JSONResponse(
                    {"error": f"the request body exceeds {settings.max_request_bytes} bytes"},
                    status_code=413,
                )
                await too_large(scope, receive, send)
                return
            needed = _scope_needed(body, granted, principal.scopes)
            if needed is not None:
                value = challenge(settings, error="insufficient_scope", scope=needed)
                message = f"the token lacks the scope `{needed}` this tool needs"
                await _refuse(403, value, message, scope, receive, send)
                return
            receive = _replay(body, receive)
        scope[PRINCIPAL] = principal
        scope[GRANTED] = granted
        scope[REVISION] = index.revision
        scope["user"] = _sdk_user(principal, token, settings.effective_public_url)
        REQUEST_SCOPE.set(scope)
        await self.app(scope, receive, send)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or `None` as soon as it is known to exceed `limit` bytes."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once more for the SDK, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _scope_needed(
    body: bytes, granted: list[IndexedTool], token_scopes: frozenset[str]
) -> str | None:
    """For a `tools/call` of a tool the caller's teams are granted but the token does not
    cover, the scope to ask for (MCP authorization: 403 `insufficient_scope`); else `None`.

    Anything else, malformed bodies included, is the SDK's to answer. The body is parsed, never
    searched for `tools/call`: JSON may spell the method with escapes (`tools\\/call`).
    """
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting raises the latter
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    for tool in granted:
        if tool.name == name:
            return None if token_allows(tool, token_scopes) else required_scope(tool)
    return None


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
