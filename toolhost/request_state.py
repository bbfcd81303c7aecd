"""`requestState` sealed to the caller it was sent to (MCP 2026-07-28 multi-round requests).

A server behind Switchboard has one client, Switchboard, so whatever protection it gives its
state cannot tell one caller from another. Switchboard seals each state a server sends, binding
the caller, the request's target and the server version, and opens the echo before forwarding
it: a state that was altered, has expired, or comes from another caller or for another target
is refused as a server would refuse it (-32602) and never reaches the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import mcp_types as types
from mcp.shared.exceptions import MCPError

from registry.secretbox import SecretBox
from toolhost.sealed import Seals

LIFETIME_SECONDS = 900
"""How long a caller has to answer a round: long enough for a person to fill in a form."""
PREFIX = "sb1."


def invalid_state() -> MCPError:
    """The one error for every reason a state is refused; the reason is not the caller's to know."""
    return MCPError(
        types.INVALID_PARAMS,
        "Invalid or expired requestState: retry the request without it",
        {"reason": "invalid_request_state"},
    )


class RequestStates:
    def __init__(self, box: SecretBox, clock: Callable[[], float] = time.time) -> None:
        self._seals = Seals(box, "mcp-request-state", PREFIX, clock)

    def seal(self, binding: str, state: str) -> str:
        """`binding` names who may echo the state, and for what (caller, target, version)."""
        return self._seals.seal(binding, {"state": state}, LIFETIME_SECONDS)

    def open(self, binding: str, token: str) -> str:
        """The server's own state inside `token`, if `binding` matches and it has not expired."""
        payload = self._seals.open(binding, token)
        state = None if payload is None else payload.get("state")
        if not isinstance(state, str):
            raise invalid_state()
        return state
