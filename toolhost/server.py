"""The MCP server behind `/mcp`, on the SDK's low-level `Server` so each caller gets a list of
their own: the tools their teams are granted, narrowed by the scopes their token carries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from starlette.types import Scope

from sandboxes.tasks import TASKS_EXTENSION
from switchboard.services import Services
from toolhost.authentication import REQUEST_SCOPE, principal_of, usable_tools
from toolhost.calls import CallPath, handshake_session
from toolhost.naming import Naming
from toolhost.notifications import ListChangedNotifier
from toolhost.passthrough import PassThrough
from toolhost.tasks import TaskParams, TaskRequests, TaskUpdateParams


def http_scope(ctx: ServerRequestContext[Services]) -> Scope:
    request = ctx.request
    if request is None:
        raise RuntimeError("the toolhost serves HTTP requests only")
    scope: Scope = request.scope
    return scope


class ToolhostServer(Server[Services]):
    """Announces `tools.listChanged`: the SDK takes the flag only from here."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True),
            experimental_capabilities,
            extensions,
        )


def tool_input_schema(name: str) -> Mapping[str, Any] | None:
    """The input schema of the caller's tool `name`, for the SDK's `Mcp-Param` header checks
    (2026-07-28); without it the SDK would run a whole `tools/list` for every call."""
    scope = REQUEST_SCOPE.get()
    if scope is None:
        return None
    tool = usable_tools(scope).get(Naming.of(scope).internal(name))
    if tool is None:
        return None
    schema: Mapping[str, Any] | None = tool.wire.get("inputSchema")
    return schema


def build_server(
    services: Services,
    calls: CallPath,
    notifier: ListChangedNotifier,
    passthrough: PassThrough,
    tasks: TaskRequests,
) -> Server[Services]:
    @asynccontextmanager
    async def lifespan(_: Server[Services]) -> AsyncIterator[Services]:
        yield services

    async def list_tools(
        ctx: ServerRequestContext[Services], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        scope = http_scope(ctx)
        principal = principal_of(scope)
        tools = list(usable_tools(scope).values())
        session_id = handshake_session(ctx)
        if session_id is not None:
            notifier.shown(session_id, ctx.session, principal, tools)
        naming = Naming.of(scope)
        if naming.bare is None:
            return types.ListToolsResult(tools=[types.Tool.model_validate(t.wire) for t in tools])
        return types.ListToolsResult(
            tools=[
                types.Tool.model_validate({**t.wire, "name": naming.expose_indexed(t.name)})
                for t in tools
            ]
        )

    server = ToolhostServer(
        "switchboard",
        version=version("switchboard"),
        instructions="Every tool your teams are granted in Switchboard, named `<server>.<tool>`.",
        lifespan=lifespan,
        get_tool_input_schema=tool_input_schema,
        on_list_tools=list_tools,
        on_subscriptions_listen=notifier.listen,
        on_list_resources=passthrough.list_resources,
        on_list_resource_templates=passthrough.list_resource_templates,
        on_read_resource=passthrough.read_resource,
        on_list_prompts=passthrough.list_prompts,
        on_get_prompt=passthrough.get_prompt,
        on_completion=passthrough.complete,
        on_subscribe_resource=passthrough.subscribe,
        on_unsubscribe_resource=passthrough.unsubscribe,
    )
    server.add_request_handler("tools/call", types.CallToolRequestParams, calls)
    server.add_request_handler(
        "logging/setLevel", types.SetLevelRequestParams, passthrough.set_logging_level
    )
    server.add_request_handler("tasks/get", TaskParams, tasks.get)
    server.add_request_handler("tasks/update", TaskUpdateParams, tasks.update)
    server.add_request_handler("tasks/cancel", TaskParams, tasks.cancel)
    server.extensions[TASKS_EXTENSION] = {}
    return server
