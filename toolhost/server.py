"""The MCP server behind `/mcp`, on the SDK's low-level `Server` so each caller gets a list of
their own: the tools their teams are granted, narrowed by the scopes their token carries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from starlette.types import Scope

from switchboard.identity.scopes import effective_tools
from switchboard.services import Services
from toolhost.authentication import granted_of, principal_of
from toolhost.calls import CallPath


def http_scope(ctx: ServerRequestContext[Services]) -> Scope:
    request = ctx.request
    if request is None:
        raise RuntimeError("the toolhost serves HTTP requests only")
    scope: Scope = request.scope
    return scope


async def list_tools(
    ctx: ServerRequestContext[Services], _params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    scope = http_scope(ctx)
    tools = effective_tools(granted_of(scope), principal_of(scope).scopes)
    return types.ListToolsResult(tools=[types.Tool.model_validate(t.wire) for t in tools])


def build_server(services: Services, calls: CallPath) -> Server[Services]:
    @asynccontextmanager
    async def lifespan(_: Server[Services]) -> AsyncIterator[Services]:
        yield services

    return Server(
        "switchboard",
        version=version("switchboard"),
        instructions="Every tool your teams are granted in Switchboard, named `<server>.<tool>`.",
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=calls,
    )
