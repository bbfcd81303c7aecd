"""Relaying a tool server's own requests and notifications to the MCP client it is serving.

A server may ask its client to sample or elicit, or send it logs and resource updates, during a
call. Whoever holds the MCP client session to the server (a sandbox, a remote connection)
inherits `PeerRelay`, passes `relay_callbacks()` to `mcp.Client`, and attaches each caller for
the length of their request.

Nothing on the wire says which of several overlapping calls a server's message belongs to, so
it goes to the newest request still running: a call that ends hands its messages back to the
one before, rather than taking them into its closed stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    def __init__(self) -> None:
        self._peers: list[ClientPeer] = []

    @property
    def peer(self) -> ClientPeer | None:
        """Where the server's own requests and notifications go now."""
        return self._peers[-1] if self._peers else None

    @contextmanager
    def attached(self, peer: ClientPeer) -> Iterator[None]:
        """`peer` receives the server's messages while its request runs (and no newer one)."""
        self._peers.append(peer)
        try:
            yield
        finally:
            self._peers.remove(peer)

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
