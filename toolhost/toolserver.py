"""What the router and the call path need of a running tool server, wherever it runs: a sandbox
(`sandboxes.sandbox.Sandbox`) or a connection to a remote server (`toolhost.remotes`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import mcp_types as types
from mcp import Client
from mcp.shared.dispatcher import ProgressFnT

from sandboxes.input_round import InputRound
from sandboxes.relay import ClientPeer
from sandboxes.tasks import CreatedTask


class ToolServer(Protocol):
    client: Client | None
    """The initialised MCP client (its `server_capabilities`), `None` before it is ready."""

    def attached(self, peer: ClientPeer) -> AbstractContextManager[None]:
        """Where the server's own requests and notifications go during a request."""

    @property
    def broken(self) -> bool:
        """True once the server should take no more calls; its lease is then replaced."""

    async def settled(self) -> None:
        """Returns once the server is known to be fit for another call (after a cancelled one,
        it may not be: then `broken` is true on return)."""

    async def list_tools(self) -> list[types.Tool]: ...

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109 (past it the call is abandoned)
        progress: ProgressFnT | None = None,
        meta: dict[str, Any] | None = None,
        input_round: InputRound | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult | CreatedTask:
        """An `InputRequiredResult` or a `CreatedTask` comes back only for a call with an
        `input_round`."""

    async def task_request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        capabilities: dict[str, Any] | None,
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """A tasks-extension request about a task this server created (`sandboxes.tasks`)."""

    async def request(self, call: Any, what: str, *, timeout: float) -> Any: ...  # noqa: ASYNC109

    async def close(self) -> None: ...
