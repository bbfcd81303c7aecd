"""Multi-round requests (MCP 2026-07-28, SEP-2322) through the toolhost.

A 2026-07-28 caller answers a server's questions itself: the server's `InputRequiredResult`
goes back to the caller, its `requestState` sealed to that caller and request
(`toolhost.request_state`), and the caller's retry goes on to the server with the answers, the
state opened, and the caller's own capabilities. A handshake-era caller is asked on the call's
stream instead (`toolhost.peer`), and its requests carry no round.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from registry.secretbox import SecretBox
from sandboxes.input_round import InputRound
from switchboard.identity.principal import Principal
from toolhost.relayed import as_own
from toolhost.request_state import RequestStates


def binding(principal: Principal, target: str, version_id: int) -> str:
    """Who may echo a state, and to what: the caller, e.g. `tools/call clock.now`, the version."""
    return f"{principal.username}\n{target}\n{version_id}"


class InputRounds:
    def __init__(self, box: SecretBox) -> None:
        self.states = RequestStates(box)

    def of(
        self,
        ctx: ServerRequestContext[Any],
        params: types.InputResponseRequestParams,
        bound_to: str,
    ) -> InputRound | None:
        """The request's round, for a 2026-07-28 caller (who declares no capability it does not
        list in `_meta`); `None` for a handshake-era one."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return None
        state = params.request_state
        capabilities = (ctx.meta or {}).get(types.CLIENT_CAPABILITIES_META_KEY)
        return InputRound(
            input_responses=params.input_responses,
            request_state=None if state is None else self.states.open(bound_to, state),
            capabilities=capabilities if isinstance(capabilities, dict) else {},
        )

    def asked(self, result: types.InputRequiredResult, bound_to: str) -> types.InputRequiredResult:
        """The server's questions, as Switchboard's own answer, with their state sealed."""
        state = result.request_state
        if state is None:
            return as_own(result)
        sealed = self.states.seal(bound_to, state)
        return as_own(result.model_copy(update={"request_state": sealed}))
