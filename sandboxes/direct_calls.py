"""`tools/call` (and the tasks extension's requests) written straight onto a server's stdin and
matched by id on the way back.

Every tool call in Switchboard crosses this hop, and through a full `mcp` client session it
cost more than the rest of the call path: the request model dumped twice, the response
validated as a JSON-RPC union, then as a result, then against the output schema (which the
call path checks again anyway), with memory streams and a dispatcher task between. Here a call
is one `json.dumps`, one socket write, and one `json.loads` of the answer by the stdout pump.

The session keeps everything else: the handshake, lists, and every message the server starts
itself (sampling, elicitation, logs, list changes), which the pump hands on as before. Ids
are strings (`switchboard-N`), so they never meet the session's integer ids.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.dispatcher import ProgressFnT

from sandboxes.input_round import InputRound

logger = logging.getLogger(__name__)

Stamp = Callable[[dict[str, Any]], None]
"""Adds what the negotiated protocol era requires of every request (2026-07-28 `_meta`)."""


class ConnectionEndedError(Exception):
    """The server's output ended before it answered."""


@dataclass(eq=False)
class _Pending:
    progress: ProgressFnT | None
    answered: anyio.Event = field(default_factory=anyio.Event)
    response: dict[str, Any] | None = None


class DirectCalls:
    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._ended = False

    async def call(
        self,
        stamp: Stamp,
        name: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFnT | None = None,
        meta: dict[str, Any] | None = None,
        input_round: InputRound | None = None,
    ) -> dict[str, Any]:
        """The JSON-RPC response object (`result` or `error`) of a `tools/call`."""
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if meta:
            params["_meta"] = dict(meta)
        return await self.request(
            stamp, "tools/call", params, progress=progress, input_round=input_round
        )

    async def request(
        self,
        stamp: Stamp,
        method: str,
        params: dict[str, Any],
        *,
        progress: ProgressFnT | None = None,
        input_round: InputRound | None = None,
    ) -> dict[str, Any]:
        """The JSON-RPC response object (`result` or `error`). A request cancelled before its
        answer tells the server so (`notifications/cancelled`), as an `mcp` client would."""
        if self._ended:
            raise ConnectionEndedError("the server's output has ended")
        request_id = f"switchboard-{next(self._ids)}"
        if progress is not None:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": request_id}
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        stamp(request)
        if input_round is not None:
            _answering(params, input_round)
        pending = self._pending[request_id] = _Pending(progress)
        try:
            await self._send(_line(request))
            await pending.answered.wait()
        finally:
            del self._pending[request_id]
            if not pending.answered.is_set() and not self._ended:
                await self._cancelled(stamp, request_id)
        if pending.response is None:
            raise ConnectionEndedError("the server's output ended during the request")
        return pending.response

    async def take(self, message: dict[str, Any]) -> bool:
        """Whether `message` was an answer or progress for a direct call (and is now handled);
        the stdout pump hands every other message to the session."""
        request_id = message.get("id")
        if isinstance(request_id, str) and "method" not in message:
            pending = self._pending.get(request_id)
            if pending is None:
                return request_id.startswith("switchboard-")
            pending.response = message
            pending.answered.set()
            return True
        if message.get("method") == "notifications/progress":
            params = message.get("params") or {}
            token = params.get("progressToken")
            pending = self._pending.get(token) if isinstance(token, str) else None
            if pending is None:
                return False
            if pending.progress is not None:
                try:
                    await pending.progress(
                        params.get("progress", 0), params.get("total"), params.get("message")
                    )
                except Exception:
                    logger.exception("forwarding progress of %s failed", token)
            return True
        return False

    def end(self) -> None:
        """The server's output ended: every call still waiting fails."""
        self._ended = True
        for pending in self._pending.values():
            pending.answered.set()

    async def _cancelled(self, stamp: Stamp, request_id: str) -> None:
        notification = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "the caller gave up on the call"},
        }
        stamp(notification)
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(1),
            suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError),
        ):
            await self._send(_line(notification))


def _answering(params: dict[str, Any], input_round: InputRound) -> None:
    """Add the round's fields; the caller's capabilities replace those the stamp declared
    (2026-07-28 only: an older era declared them once, at `initialize`)."""
    params.update(input_round.params())
    meta = params.get("_meta")
    if input_round.capabilities is not None and meta and types.CLIENT_CAPABILITIES_META_KEY in meta:
        meta[types.CLIENT_CAPABILITIES_META_KEY] = input_round.capabilities


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def error_of(response: dict[str, Any]) -> types.ErrorData | None:
    """The response's JSON-RPC error, if it is one (a malformed error is still an error)."""
    error = response.get("error")
    if error is None:
        return None
    try:
        return types.ErrorData.model_validate(error)
    except ValueError:
        return types.ErrorData(code=types.INTERNAL_ERROR, message=f"malformed error: {error!r}")
