"""A request's part in a multi-round exchange (MCP 2026-07-28, SEP-2322), passed to its server.

A caller on 2026-07-28 answers a server's questions itself: the server returns an
`InputRequiredResult` and the caller retries with the answers and the echoed `requestState`.
A request carrying an `InputRound` has the server's `InputRequiredResult` handed back instead of
answered through the relay, and carries the caller's declared capabilities in place of
Switchboard's own, so the server asks only what the caller can answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import mcp_types as types
from mcp import Client
from mcp.shared.dispatcher import ProgressFnT

ToolsCall = Callable[[Client], Awaitable[types.CallToolResult | types.InputRequiredResult]]


@dataclass(frozen=True)
class InputRound:
    input_responses: types.InputResponses | None = None
    request_state: str | None = None
    """The server's own state, as it sent it (the toolhost has opened its seal)."""
    capabilities: dict[str, Any] | None = None
    """The caller's `clientCapabilities`; `None` keeps the session's."""

    def retry(self) -> dict[str, Any]:
        """The keyword arguments that send the round through an `mcp` client session and hand
        back an `InputRequiredResult` (`ClientSession.call_tool`, `get_prompt`, `read_resource`)."""
        return {
            "input_responses": self.input_responses,
            "request_state": self.request_state,
            "allow_input_required": True,
        }

    def params(self) -> dict[str, Any]:
        """The retry's fields, as they go on the wire."""
        fields: dict[str, Any] = {}
        if self.input_responses is not None:
            fields["inputResponses"] = {
                key: response.model_dump(by_alias=True, exclude_none=True, mode="json")
                for key, response in self.input_responses.items()
            }
        if self.request_state is not None:
            fields["requestState"] = self.request_state
        return fields


def input_required(result: dict[str, Any]) -> bool:
    return result.get("resultType") == "input_required"


def tools_call(
    name: str,
    arguments: dict[str, Any],
    progress: ProgressFnT | None,
    meta: dict[str, Any] | None,
    input_round: InputRound | None,
) -> ToolsCall:
    """`tools/call` through an `mcp` client: without a round, the client answers the server's
    questions (through the relay); with one, the caller does. The client stamps its own
    capabilities on every request, so a round through it cannot declare the caller's."""
    request_meta = cast("types.RequestParamsMeta | None", meta)

    def call(client: Client) -> Awaitable[types.CallToolResult | types.InputRequiredResult]:
        if input_round is None:
            return client.call_tool(name, arguments, progress_callback=progress, meta=request_meta)
        return client.session.call_tool(
            name, arguments, progress_callback=progress, meta=request_meta, **input_round.retry()
        )

    return call
