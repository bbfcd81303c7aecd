"""Relaying a tool server's own requests and notifications to the MCP client it is serving.

A server may ask its client to sample or elicit, or send it logs and resource updates, during a
call. Whoever holds the MCP client session to the server (a sandbox, a remote connection)
inherits `PeerRelay`, passes `relay_callbacks()` to `mcp.Client`, and sets `peer` to the caller
of the moment.
"""

from __future__ import annotations

from typing import Any, Protocol

import mcp_types as types

NO_PEER = types.ErrorData(
    code=types.INVALID_REQUEST, message="no client is attached to relay this request to"
)


class ClientPeer(Protocol):
    """The MCP client a server is serving, for the requests and notifications the server sends
    its way (sampling, elicitation, log messages, resource updates)."""

    async def create_message(
        self, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData: ...

    async def elicit(
        self, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData: ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None: ...

    async def notify(self, notification: types.ServerNotification) -> None: ...


class PeerRelay:
    peer: ClientPeer | None = None
    """Where the server's own requests and notifications go; set by whoever uses the server."""

    def relay_callbacks(self) -> dict[str, Any]:
        """The `mcp.Client` keyword arguments that route the server's messages to `peer`."""
        return {
            "sampling_callback": self._sample,
            "elicitation_callback": self._elicit,
            "logging_callback": self._log,
            "message_handler": self._notified,
        }

    async def _sample(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        return NO_PEER if self.peer is None else await self.peer.create_message(params)

    async def _elicit(
        self, context: Any, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return NO_PEER if self.peer is None else await self.peer.elicit(params)

    async def _log(self, params: types.LoggingMessageNotificationParams) -> None:
        if self.peer is not None:
            await self.peer.log(params)

    async def _notified(self, message: Any) -> None:
        if self.peer is not None and not isinstance(message, Exception):
            await self.peer.notify(message)
