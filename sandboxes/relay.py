"""Relaying a tool server's own requests and notifications to the MCP client it is serving.

A server may ask its client to sample or elicit, or send it logs and resource updates, during a
call. Whoever holds the MCP client session to the server (a sandbox, a remote connection)
inherits `PeerRelay`, passes `relay_callbacks()` to `mcp.Client`, and attaches each caller for
the length of their request.

Nothing on the wire says which of several overlapping calls a server's message belongs to, so
it goes to the newest request still running: a call that ends hands its messages back to the
one before, rather than taking them into its closed stream.

Log messages and resource updates must reach the caller before the answer the server sent after
them. The SDK's session handles each notification in a task of its own, and a sandbox reads
answers to its direct calls off the wire ahead of the session, so either way an answer could
overtake them. They are relayed where messages are read instead, in order: `take` for a
sandbox's wire, `in_order` around a transport.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.client._transport import Transport, TransportStreams
from mcp.shared.message import SessionMessage

logger = logging.getLogger(__name__)

RELAYED = frozenset({"notifications/message", "notifications/resources/updated"})
"""The server notifications a caller is given (`ClientPeer.log`, `ClientPeer.notify`)."""

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

    async def take(self, message: dict[str, Any]) -> bool:
        """Whether `message`, straight off the wire, was a notification for the caller and is
        now relayed; anything else (or one that does not validate) is left to the session."""
        if message.get("method") not in RELAYED or "id" in message:
            return False
        try:
            notification = types.server_notification_adapter.validate_python(message, by_name=False)
        except ValueError:
            return False
        try:
            if isinstance(notification, types.LoggingMessageNotification):
                await self._log(notification.params)
            else:
                await self._notified(notification)
        except Exception:
            logger.exception("relaying the server's %s failed", message["method"])
        return True

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


@asynccontextmanager
async def in_order(transport: Transport, relay: PeerRelay) -> AsyncIterator[TransportStreams]:
    """`transport`, with the notifications `relay` gives callers relayed as they are read, so
    that nothing the server sent after them reaches the session first."""
    async with transport as (read, write), anyio.create_task_group() as tasks:
        forward, receive = anyio.create_memory_object_stream[SessionMessage | Exception](16)

        async def pump() -> None:
            async with forward:
                async for item in read:
                    if isinstance(item, SessionMessage) and await _relayed(item, relay):
                        continue
                    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        await forward.send(item)

        tasks.start_soon(pump)
        try:
            yield receive, write
        finally:
            tasks.cancel_scope.cancel()


async def _relayed(item: SessionMessage, relay: PeerRelay) -> bool:
    message = item.message
    if not isinstance(message, types.JSONRPCNotification) or message.method not in RELAYED:
        return False
    return await relay.take(message.model_dump(by_alias=True, exclude_unset=True))
