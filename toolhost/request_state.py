"""`requestState` sealed to the caller it was sent to (MCP 2026-07-28 multi-round requests).

A server behind Switchboard has one client, Switchboard, so whatever protection it gives its
state cannot tell one caller from another. Switchboard seals each state a server sends, binding
the caller, the request's target and the server version, and opens the echo before forwarding
it: a state that was altered, has expired, or comes from another caller or for another target
is refused as a server would refuse it (-32602) and never reaches the server.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable

import mcp_types as types
from mcp.shared.exceptions import MCPError

from registry.secretbox import SecretBox, SecretKeyError

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
        self._box = box
        self._clock = clock

    def seal(self, binding: str, state: str) -> str:
        """`binding` names who may echo the state, and for what (caller, target, version)."""
        payload = json.dumps({"state": state, "expires": self._clock() + LIFETIME_SECONDS})
        sealed = self._box.seal(_context(binding), payload)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, binding: str, token: str) -> str:
        """The server's own state inside `token`, if `binding` matches and it has not expired."""
        if not token.startswith(PREFIX):
            raise invalid_state()
        encoded = token.removeprefix(PREFIX)
        try:
            sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            payload = json.loads(self._box.open(_context(binding), sealed))
        except (binascii.Error, ValueError, SecretKeyError):
            raise invalid_state() from None
        state, expires = payload.get("state"), payload.get("expires")
        if not isinstance(state, str) or not isinstance(expires, float | int):
            raise invalid_state()
        if expires < self._clock():
            raise invalid_state()
        return state


def _context(binding: str) -> str:
    return f"mcp-request-state\n{binding}"
