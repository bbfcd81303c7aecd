"""The caller, as seen from a sandbox: the server's own requests and notifications during a
call (sampling, elicitation, log messages, resource updates) go back to the MCP client that
made the call, on that call's stream.

A caller that did not declare a capability gets nothing asked of it: the server gets an error
instead, as it would from a client without that capability.
"""

from __future__ import annotations

from typing import Any, TypeVar

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata

ResultT = TypeVar("ResultT", bound=types.Result)


def _unsupported(what: str) -> types.ErrorData:
    return types.ErrorData(
        code=types.INVALID_REQUEST, message=f"the client connected to Switchboard does not {what}"
    )


class CallerPeer:
    def __init__(self, ctx: ServerRequestContext[Any]) -> None:
        self._ctx = ctx
        self._related = ServerMessageMetadata(related_request_id=ctx.request_id)

    def _declares(self, capability: types.ClientCapabilities) -> bool:
        return self._ctx.session.check_client_capability(capability)

    async def create_message(
        self, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        if not self._declares(types.ClientCapabilities(sampling=types.SamplingCapability())):
            return _unsupported("offer sampling")
        return await self._ask(types.CreateMessageRequest(params=params), types.CreateMessageResult)

    async def elicit(
        self, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        if not self._declares(types.ClientCapabilities(elicitation=types.ElicitationCapability())):
            return _unsupported("offer elicitation")
        return await self._ask(types.ElicitRequest(params=params), types.ElicitResult)

    async def _ask(
        self, request: types.ServerRequest, result_type: type[ResultT]
    ) -> ResultT | types.ErrorData:
        try:
            return await self._ctx.session.send_request(
                request, result_type, metadata=self._related
            )
        except MCPError as exc:
            return exc.error

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        await self._ctx.session.send_notification(
            types.LoggingMessageNotification(params=params), related_request_id=self._ctx.request_id
        )

    async def notify(self, notification: types.ServerNotification) -> None:
        """Resource updates pass through; the server's own list changes do not, since the
        caller's lists are Switchboard's (a changed tool list means quarantine, not news)."""
        if isinstance(notification, types.ResourceUpdatedNotification):
            await self._ctx.session.send_notification(notification)
