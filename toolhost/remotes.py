"""Remote MCP servers (`remotes` in a manifest), reached over streamable HTTP from Switchboard.

A remote is called with its own credentials only: the headers its manifest declares, secret ones
filled from the server's stored secrets. Nothing of the caller's request, least of all their
token, goes to it. To the router a connection is one more tool server: its `tools/list` is
checked against the approved digest when its lease starts, calls run with the policy's timeout,
and it is closed when the lease ends. Where it may connect is `toolhost.remote_egress`'s call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client import InputRequiredRoundsExceededError, UnexpectedClaimedResult
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError

from registry.manifest import Remote
from registry.models import ServerKind
from sandboxes.errors import (
    SandboxCrashedError,
    SandboxError,
    SandboxStartError,
    SandboxTimeoutError,
    refused_output,
)
from sandboxes.input_round import InputRound, tools_call
from sandboxes.launch import LaunchError
from sandboxes.relay import PeerRelay, in_order
from sandboxes.runtime import Launch
from toolhost.remote_egress import CheckedTransport, RemoteEgress, tls_context

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_TRANSPORT_HEADERS = frozenset(
    {
        "accept",
        "connection",
        "content-length",
        "content-type",
        "host",
        "last-event-id",
        "mcp-protocol-version",
        "mcp-session-id",
        "transfer-encoding",
    }
)
_CLOSE_SECONDS = 5.0


def is_remote(kind: str, document: dict[str, Any]) -> bool:
    """A manifest's version without a package runs as its first remote, not in a sandbox."""
    manifest = kind == ServerKind.mcp
    return manifest and not document.get("packages") and bool(document.get("remotes"))


def remote_headers(remote: Remote, secrets: Mapping[str, str]) -> dict[str, str]:
    """The headers the manifest declares: a secret one's whole value is its stored secret
    (`Bearer ...`), a plain one's is its `value` or `default`."""
    headers: dict[str, str] = {}
    for header in remote.headers:
        name = header.name
        if not _HEADER_NAME.match(name) or name.lower() in _TRANSPORT_HEADERS:
            raise LaunchError(
                f"the remote's header {name!r} cannot be set by a manifest; "
                f"these belong to the MCP transport: {', '.join(sorted(_TRANSPORT_HEADERS))}"
            )
        if header.is_secret:
            value = secrets.get(name)
            if value is None and header.is_required:
                raise LaunchError(
                    f"secret {name} is required but not stored; set it with "
                    f"`switchboard secret set SERVER {name}`, then run `switchboard discover`"
                )
        else:
            value = header.value if header.value is not None else header.default
            if value is None and header.is_required:
                raise LaunchError(
                    f"the remote's header {name} has no `value` or `default`; give it one, or "
                    "mark it `isSecret` and store its value as a secret"
                )
            if value is not None and _PLACEHOLDER.search(value):
                raise LaunchError(
                    f"the remote's header {name} has a `{{variable}}` in its value, which "
                    "Switchboard does not fill in; mark the header `isSecret` and store its "
                    f"whole value (`switchboard secret set SERVER {name}`)"
                )
        if value is None:
            continue
        if "\r" in value or "\n" in value:
            raise LaunchError(f"the value of the remote's header {name} contains a line break")
        headers[name] = value
    return headers


class RemoteServer(PeerRelay):
    """An initialised MCP session with a remote server, run by a task of its own (the SDK's
    task groups must be entered and left by one task); calls from any task go through it."""

    def __init__(self, name: str, url: str, *, list_timeout: float, max_age: float) -> None:
        super().__init__()
        self.name = name
        self.url = url
        self.client: Client | None = None
        self.started_at = time.monotonic()
        self._broken = False
        self._max_age = max_age
        self.http_status: int | None = None
        """The last HTTP status that ended the connection (401, 403, 404, 5xx)."""
        self._list_timeout = list_timeout
        self._failure: BaseException | None = None
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._done = anyio.Event()
        self._scope = anyio.CancelScope()

    @property
    def broken(self) -> bool:
        """Past `max_age` too: a remote may change its tools at any time, so no connection is
        trusted for longer; the router replaces it, and the new one's tools are checked."""
        return self._broken or time.monotonic() - self.started_at > self._max_age

    async def _run(self, http: httpx2.AsyncClient) -> None:
        try:
            with self._scope:
                async with (
                    http,
                    Client(
                        in_order(streamable_http_client(self.url, http_client=http), self),
                        cache=None,
                        client_info=types.Implementation(
                            name="switchboard", version=version("switchboard")
                        ),
                        **self.relay_callbacks(),
                    ) as client,
                ):
                    self.client = client
                    self._ready.set()
                    await self._stop.wait()
        except Exception as exc:
            self._failure = exc
        finally:
            self._broken = True
            self._ready.set()
            self._done.set()

    async def _saw(self, response: httpx2.Response) -> None:
        """An answer that ends the session (credentials refused, session gone, server failing)
        marks the connection broken, so the next call opens a new one."""
        status = response.status_code
        in_session = "mcp-session-id" in response.request.headers
        if status in (401, 403) or status >= 500 or (status == 404 and in_session):
            self.http_status = status
            self._broken = True

    async def _notified(self, message: Any) -> None:
        """A remote may change its tools at any time: one that says so is checked again
        before its next call (a new lease lists and compares them)."""
        if isinstance(message, types.ToolListChangedNotification):
            self._broken = True
        else:
            await super()._notified(message)

    async def settled(self) -> None:
        """A remote serves each HTTP request on its own: a cancelled call holds up no other."""

    async def list_tools(self) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            result = await self.request(
                lambda c, at=cursor: c.list_tools(cursor=at),
                "tools/list",
                timeout=self._list_timeout,
            )
            tools += result.tools
            cursor = result.next_cursor
            if not cursor:
                return tools

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109 (the call is abandoned past it)
        progress: ProgressFnT | None = None,
        meta: dict[str, Any] | None = None,
        input_round: InputRound | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """The SDK checks the result against the tool's `outputSchema` itself, raising a bare
        `RuntimeError` when it does not fit (its named subclasses are about other things):
        the remote's fault, so an error result, as Switchboard's own check makes it."""
        try:
            result: types.CallToolResult | types.InputRequiredResult = await self.request(
                tools_call(name, arguments, progress, meta, input_round),
                f"tool {name!r}",
                timeout=timeout,
            )
        except (InputRequiredRoundsExceededError, UnexpectedClaimedResult):
            raise
        except RuntimeError as exc:
            raise refused_output(self.name, name, exc) from exc
        return result

    async def task_request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        capabilities: dict[str, Any] | None,
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """A remote never runs a task for a caller: its client declares Switchboard's own
        capabilities, which leave the tasks extension out, so no task id can name one."""
        raise MCPError(types.INVALID_PARAMS, f"{self.name} runs no tasks through Switchboard")

    async def request(self, call: Any, what: str, *, timeout: float) -> Any:  # noqa: ASYNC109
        """Any request to the remote, e.g. `lambda c: c.list_prompts()`; past `timeout` it is
        cancelled (the connection stays: a slow answer does not make it unusable)."""
        with anyio.move_on_after(timeout):
            return await self._request(call, what)
        raise SandboxTimeoutError(
            f"{self.name}: {what} did not answer within {timeout:g} s; the call was cancelled"
        )

    async def _request(self, call: Any, what: str) -> Any:
        if self.client is None or self._done.is_set() or self.http_status is not None:
            raise SandboxCrashedError(f"{self.name}: {self._ended()}; the next call reconnects")
        try:
            return await call(self.client)
        except MCPError as exc:
            if self.http_status is None and exc.error.code != types.CONNECTION_CLOSED:
                raise
            self._broken = True
            raise SandboxCrashedError(
                f"{self.name}: {self._ended()} during {what}; the next call reconnects"
            ) from exc
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            self._broken = True
            raise SandboxCrashedError(
                f"{self.name}: {self._ended()} during {what}; the next call reconnects"
            ) from exc

    def _ended(self) -> str:
        if self.http_status is not None:
            return f"the remote server answered HTTP {self.http_status}"
        return "the connection to the remote server ended"

    def failure(self) -> str:
        """Why the session could not start, for a person to act on."""
        if self.http_status in (401, 403):
            return (
                f"it answered HTTP {self.http_status}: it refused the credentials; check the "
                "secrets its headers carry (`switchboard secret list SERVER`)"
            )
        if self.http_status is not None:
            return f"it answered HTTP {self.http_status}"
        error = self._failure
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is None:
            return "the session ended before it was initialised"
        return str(error) or type(error).__name__

    async def close(self) -> None:
        """End the session (telling the remote, when it still answers); safe to call twice."""
        with anyio.CancelScope(shield=True):
            self._broken = True
            self._stop.set()
            with anyio.move_on_after(_CLOSE_SECONDS):
                await self._done.wait()
            self._scope.cancel()
            await self._done.wait()


class RemoteConnector:
    """Opens sessions with remote servers, within what `egress` allows."""

    def __init__(self, egress: RemoteEgress, *, start_timeout: float, max_age: float) -> None:
        self.egress = egress
        self.start_timeout = start_timeout
        self.max_age = max_age

    async def connect(self, target: Launch, tasks: TaskGroup) -> RemoteServer:
        """A session with `target`'s first remote, its runner started in `tasks`."""
        remote = Remote.model_validate(target.document["remotes"][0])
        headers = remote_headers(remote, target.secrets)
        host, port = self.egress.check_url(remote.url)
        await self.egress.addresses(host, port)
        server = RemoteServer(
            target.name, remote.url, list_timeout=self.start_timeout, max_age=self.max_age
        )
        call_timeout = float(target.policy.get("callTimeoutSeconds", 30))
        http = httpx2.AsyncClient(
            transport=CheckedTransport(self.egress, await tls_context()),
            headers={"User-Agent": "Switchboard", **headers},
            timeout=httpx2.Timeout(30.0, read=max(300.0, call_timeout + 30)),
            trust_env=False,
            event_hooks={"response": [server._saw]},
        )
        tasks.start_soon(server._run, http)
        with anyio.move_on_after(self.start_timeout) as waiting:
            await server._ready.wait()
        if waiting.cancelled_caught:
            await server.close()
            raise SandboxStartError(
                f"{target.name}: the remote server at {remote.url} did not answer `initialize` "
                f"within {self.start_timeout:g} s"
            )
        if server.client is None:
            await server.close()
            raise SandboxStartError(
                f"{target.name}: could not connect to the remote server at {remote.url}: "
                + server.failure()
            )
        return server

    async def list_tools(self, target: Launch) -> list[types.Tool]:
        """Connect, list the tools, disconnect: discovery at publish."""
        async with anyio.create_task_group() as tasks:
            listed = await self._listed(target, tasks)
        if isinstance(listed, SandboxError):
            raise listed
        return listed

    async def _listed(self, target: Launch, tasks: TaskGroup) -> list[types.Tool] | SandboxError:
        """The tools, or the failure, returned rather than raised: raised inside the task
        group, it would leave wrapped in an exception group."""
        try:
            server = await self.connect(target, tasks)
        except SandboxError as exc:
            return exc
        try:
            return await server.list_tools()
        except SandboxError as exc:
            return exc
        finally:
            await server.close()
