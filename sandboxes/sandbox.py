"""One running tool server in a hardened container, with an initialised MCP session to it."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client import InputRequiredRoundsExceededError, UnexpectedClaimedResult
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError

from sandboxes.direct_calls import ConnectionEndedError, DirectCalls, Stamp, error_of
from sandboxes.errors import (
    SandboxCrashedError,
    SandboxStartError,
    SandboxTimeoutError,
    refused_output,
)
from sandboxes.input_round import InputRound, input_required, tools_call
from sandboxes.ownership import this_process
from sandboxes.profile import RunProfile
from sandboxes.relay import PeerRelay
from sandboxes.removal import remove_container
from sandboxes.stdio import AttachedLog, AttachedStdio, BoundedLog, StdioSocket, socket_transport
from sandboxes.stdio_listener import SocketDirectory, StdioListener
from sandboxes.tasks import CreatedTask

CANCEL_GRACE = 2.0
"""Seconds a server has, after one of its calls is cancelled, to answer a `ping`."""


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to start one server; `secrets` never reach Docker's configuration."""

    image_id: str
    command: list[str] | None = None
    profile: RunProfile = field(default_factory=RunProfile)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    start_timeout: float = 60.0
    name: str = "tool"


class Sandbox(PeerRelay):
    """A started container and its MCP client; close it to remove the container.

    The MCP client lives in a runner task of its own (in the task group the sandbox was started
    with), because its task groups must be entered and left by one task; calls from any task
    go through it. Tool calls skip it (`sandboxes.direct_calls`) once it has negotiated.
    """

    def __init__(self, docker: Any, container_id: str, log: BoundedLog, spec: SandboxSpec) -> None:
        super().__init__()
        self.docker = docker
        self.container_id = container_id
        self.log = log
        self.spec = spec
        self.started_at = time.monotonic()
        self.client: Client | None = None
        self.broken = False
        self._failure: BaseException | None = None
        self._ready = anyio.Event()
        self._done = anyio.Event()
        self._scope = anyio.CancelScope()
        self._direct: DirectCalls | None = None
        self._settling: anyio.Event | None = None
        self.attached_log: AttachedLog | None = None
        """The server's stderr, when its stdin and stdout are a socket of their own."""

    @property
    def age(self) -> float:
        return time.monotonic() - self.started_at

    async def _run(self, stdio: StdioSocket) -> None:
        direct = DirectCalls(stdio.send)
        try:
            with self._scope:
                async with (
                    socket_transport(stdio, lambda m: self._intercept(direct, m)) as streams,
                    Client(_StreamsTransport(streams), **self.relay_callbacks()) as client,
                ):
                    self._direct = direct
                    self.client = client
                    self._ready.set()
                    await stdio.ended.wait()
        except Exception as exc:
            self._failure = exc
        finally:
            self.broken = True
            direct.end()
            self._ready.set()
            stdio.close()
            self._done.set()

    async def _intercept(self, direct: DirectCalls, message: dict[str, Any]) -> bool:
        """Answers to direct calls, and the notifications sent before them, in wire order."""
        return await direct.take(message) or await self.take(message)

    async def request(self, call: Any, what: str, *, timeout: float) -> Any:  # noqa: ASYNC109
        """Any other request to the server, e.g. `lambda c: c.list_prompts()`; past `timeout`
        the sandbox is marked broken, as for tool calls."""
        with anyio.move_on_after(timeout):
            return await self._request(call, what)
        self.broken = True
        raise SandboxTimeoutError(f"{self.spec.name}: {what} did not answer within {timeout:g} s")

    async def list_tools(self) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            result = await self._request(lambda c, at=cursor: c.list_tools(cursor=at), "tools/list")
            tools += result.tools
            cursor = result.next_cursor
            if not cursor:
                return tools

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109  (the sandbox must know: past it, it is recycled)
        progress: ProgressFnT | None = None,
        meta: dict[str, Any] | None = None,
        input_round: InputRound | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult | CreatedTask:
        """Run one tool call; past `timeout` the call is abandoned and the sandbox marked broken.

        `progress` receives the server's progress notifications for this call; `meta` goes
        with the request (e.g. the log level the caller opted in to). With `input_round`, the
        caller answers the server's questions (`sandboxes.input_round`), and a caller that
        declared the tasks extension may get a task (`sandboxes.tasks`).
        """
        try:
            with anyio.move_on_after(timeout):
                stamp = self._stamp()
                if stamp is not None and self._direct is not None:
                    done = await self._call_direct(
                        self._direct,
                        stamp,
                        name,
                        arguments,
                        progress=progress,
                        meta=meta,
                        input_round=input_round,
                    )
                    if done is not None:
                        return done
                return await self._call_in_session(name, arguments, progress, meta, input_round)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._settle()
            raise
        self.broken = True
        raise SandboxTimeoutError(
            f"{self.spec.name}: tool {name!r} did not answer within {timeout:g} s; "
            "the call was cancelled and the server will be replaced"
        )

    async def _call_in_session(
        self,
        name: str,
        arguments: dict[str, Any],
        progress: ProgressFnT | None,
        meta: dict[str, Any] | None,
        input_round: InputRound | None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Through the SDK session, which checks the result against the tool's `outputSchema`
        itself and raises a bare `RuntimeError` when it does not fit: an error result, as the
        call path's own check makes it (its named subclasses are about other things). A round
        declares the session's capabilities, not the caller's: the session stamps its own."""
        try:
            result: types.CallToolResult | types.InputRequiredResult = await self._request(
                tools_call(name, arguments, progress, meta, input_round), f"tools/call {name}"
            )
        except (InputRequiredRoundsExceededError, UnexpectedClaimedResult):
            raise
        except RuntimeError as exc:
            raise refused_output(self.spec.name, name, exc) from exc
        return result

    async def settled(self) -> None:
        """Returns once no cancelled call's aftermath is being checked (`_settle`), so a new
        call never waits on a server that is still busy with the cancelled one."""
        if self._settling is not None:
            await self._settling.wait()

    async def _settle(self) -> None:
        """After a cancelled call. A server may go on with it regardless (a tool that blocks
        its event loop ignores `notifications/cancelled`), and then answers nothing else
        either: one that does not answer a `ping` within `CANCEL_GRACE` is marked broken, and
        its lease gets a new sandbox before the next call."""
        if self.broken or self._settling is not None:
            return
        settling = self._settling = anyio.Event()
        try:
            with anyio.move_on_after(CANCEL_GRACE):
                await self._request(lambda c: c.send_ping(), "ping")
                return
            self.broken = True
        except Exception:
            self.broken = True
        finally:
            self._settling = None
            settling.set()

    async def _call_direct(
        self,
        direct: DirectCalls,
        stamp: Stamp,
        name: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFnT | None,
        meta: dict[str, Any] | None,
        input_round: InputRound | None,
    ) -> types.CallToolResult | types.InputRequiredResult | CreatedTask | None:
        """The call's result, or `None` when only the session can finish it: the server asked
        for input first (2026-07-28 `input_required`, answered by callbacks and then retried,
        unless the caller answers: `input_round`) or refused the call's headers
        (`HEADER_MISMATCH`, re-listed and resent). That round ran no tool to completion, so
        sending the call again through the session is safe."""
        if self.broken:
            raise self._gone()
        try:
            response = await direct.call(
                stamp, name, arguments, progress=progress, meta=meta, input_round=input_round
            )
        except (ConnectionEndedError, anyio.ClosedResourceError, OSError) as exc:
            self.broken = True
            raise await self._crashed(f"tools/call {name}") from exc
        error = error_of(response)
        if error is not None:
            if error.code == types.HEADER_MISMATCH:
                return None
            raise MCPError.from_error_data(error)
        result = response.get("result")
        if isinstance(result, dict) and input_round is not None:
            if input_required(result):
                return types.InputRequiredResult.model_validate(result, by_name=False)
            if result.get("resultType") == "task":
                return CreatedTask.model_validate(result, by_name=False)
        if not isinstance(result, dict) or result.get("resultType", "complete") != "complete":
            return None
        return types.CallToolResult.model_validate(result, by_name=False)

    async def task_request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        capabilities: dict[str, Any] | None,
        timeout: float,  # noqa: ASYNC109  (past it the server is stuck: it is replaced)
    ) -> dict[str, Any]:
        """A tasks-extension request (`tasks/get`, ...) about a task this server created: its
        JSON-RPC result, or the server's error as `MCPError`. It declares `capabilities`, those
        of the caller whose call created the task, as that call did."""
        stamp = self._stamp()
        if stamp is None or self._direct is None or self.broken:
            raise self._gone()
        with anyio.move_on_after(timeout):
            try:
                response = await self._direct.request(
                    stamp, method, params, input_round=InputRound(capabilities=capabilities)
                )
            except (ConnectionEndedError, anyio.ClosedResourceError, OSError) as exc:
                self.broken = True
                raise await self._crashed(method) from exc
            error = error_of(response)
            if error is not None:
                raise MCPError.from_error_data(error)
            result = response.get("result")
            if not isinstance(result, dict):
                raise MCPError(types.INTERNAL_ERROR, f"{self.spec.name}: {method} has no result")
            return result
        self.broken = True
        raise SandboxTimeoutError(f"{self.spec.name}: {method} did not answer within {timeout:g} s")

    def _stamp(self) -> Stamp | None:
        """The session's own per-request stamp for its negotiated era, so a direct call looks on
        the wire exactly as the session's would. It is private to the SDK: without it (a
        future SDK), tool calls go through the session."""
        session = self.client.session if self.client is not None else None
        stamp = getattr(session, "_stamp", None)
        if stamp is None:
            return None
        return lambda message: stamp(message, {})

    def _gone(self) -> SandboxCrashedError:
        return SandboxCrashedError(
            f"{self.spec.name}: the server is no longer running" + self._log_suffix()
        )

    async def _crashed(self, what: str) -> SandboxCrashedError:
        await self._log_complete()
        return SandboxCrashedError(
            f"{self.spec.name}: the server stopped during {what}; it will be replaced"
            + self._log_suffix()
        )

    async def _request(self, call: Any, what: str) -> Any:
        if self.client is None or self.broken:
            raise self._gone()
        try:
            return await call(self.client)
        except MCPError as exc:
            if exc.error.code != types.CONNECTION_CLOSED:
                raise
            self.broken = True
            raise await self._crashed(what) from exc
        except (
            anyio.ClosedResourceError,
            anyio.BrokenResourceError,
            anyio.EndOfStream,
            ConnectionError,
        ) as exc:
            self.broken = True
            raise await self._crashed(what) from exc

    async def _log_complete(self, wait: float = 1.0) -> None:
        """Give a server's last words a moment to arrive: with stdio on a socket, its stderr
        comes on a stream of its own, which may end a little after stdout did."""
        if self.attached_log is not None:
            with anyio.move_on_after(wait):
                await self.attached_log.done.wait()

    def _log_suffix(self) -> str:
        tail = self.log.tail(10)
        return f"\n--- server log (last lines) ---\n{tail}" if tail else ""

    async def close(self) -> None:
        """Stop the session and remove the container; safe to call twice and from any state."""
        with anyio.CancelScope(shield=True):
            self.broken = True
            self._scope.cancel()
            with anyio.move_on_after(5):
                await self._done.wait()
            await anyio.to_thread.run_sync(remove_container, self.docker, self.container_id)
            if self.attached_log is not None:
                self.attached_log.close()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_sandbox(
    docker: Any,
    spec: SandboxSpec,
    *,
    owner: str,
    tasks: TaskGroup,
    sockets: SocketDirectory | None = None,
) -> Sandbox:
    """Create, attach (before start, so nothing is lost), start, hand over secrets, initialise.

    With `sockets`, the server's stdin and stdout are a unix socket it connects to (see
    `sandboxes.stdio_listener`) and the attach stream carries its log only; without, all three
    are the attach stream.
    """
    listener = await anyio.to_thread.run_sync(sockets.listener) if sockets else None
    try:
        return await _start(docker, spec, owner, tasks, listener)
    finally:
        if listener is not None:
            listener.close()


async def _start(
    docker: Any, spec: SandboxSpec, owner: str, tasks: TaskGroup, listener: StdioListener | None
) -> Sandbox:
    arguments = spec.profile.create_arguments(
        docker, owner, this_process(), stdio_socket=listener.directory if listener else None
    )
    created = await anyio.to_thread.run_sync(
        lambda: docker.create_container(spec.image_id, command=spec.command, **arguments)
    )
    sandbox = Sandbox(docker, created["Id"], BoundedLog(), spec)
    stdio: StdioSocket | None = None
    running = False
    waiting = "no answer to `initialize`"
    try:
        attached = await anyio.to_thread.run_sync(
            lambda: docker.attach_socket(
                sandbox.container_id,
                params={"stdin": int(listener is None), "stdout": 1, "stderr": 1, "stream": 1},
            )
        )
        with anyio.fail_after(spec.start_timeout):
            if listener is None:
                stdio = AttachedStdio(attached, sandbox.log)
                await anyio.to_thread.run_sync(docker.start, sandbox.container_id)
            else:
                sandbox.attached_log = AttachedLog(attached, sandbox.log)
                tasks.start_soon(sandbox.attached_log.follow)
                await anyio.to_thread.run_sync(docker.start, sandbox.container_id)
                waiting = "the server did not connect to its stdio socket"
                connection = await listener.accept(sandbox.attached_log.done)
                if connection is None:
                    raise _StartFailed("the server exited before connecting to its stdio socket")
                waiting = "no answer to `initialize`"
                stdio = StdioSocket(connection, sandbox.log)
            with suppress(OSError):  # it exited already: the session sees why
                await stdio.send(json.dumps(spec.secrets).encode() + b"\n")
            tasks.start_soon(sandbox._run, stdio)
            running = True
            await sandbox._ready.wait()
    except BaseException as exc:
        if not running:
            if stdio is not None:
                stdio.close()
            sandbox._done.set()
        if isinstance(exc, TimeoutError):
            await sandbox.close()
            raise SandboxStartError(
                f"{spec.name}: {waiting} within {spec.start_timeout:g} s",
                sandbox.log.tail(),
            ) from exc
        if isinstance(exc, _StartFailed):
            raise await _start_error(sandbox, str(exc)) from None
        await sandbox.close()
        raise
    if sandbox.client is None:
        raise await _start_error(sandbox, "the server exited before answering `initialize`")
    return sandbox


async def _start_error(sandbox: Sandbox, exited: str) -> SandboxStartError:
    """Why a server that never became usable is gone (after removing it), with its log."""
    await sandbox._log_complete()
    exit_code = await anyio.to_thread.run_sync(_exit_code, sandbox.docker, sandbox.container_id)
    await sandbox.close()
    if exit_code is not None:
        reason = f"{exited} (exit code {exit_code})"
    elif sandbox._failure is not None:
        reason = f"`initialize` failed: {_innermost(sandbox._failure)}"
    else:
        reason = exited
    return SandboxStartError(f"{sandbox.spec.name}: {reason}", sandbox.log.tail())


class _StartFailed(Exception):
    """The server ended before it could be reached."""


class _StreamsTransport:
    """Already-open streams presented as the transport `mcp.Client` expects."""

    def __init__(self, streams: Any) -> None:
        self._streams = streams

    async def __aenter__(self) -> Any:
        return self._streams

    async def __aexit__(self, *exc: object) -> None:
        return None


def _exit_code(docker: Any, container_id: str) -> int | None:
    try:
        state = docker.inspect_container(container_id)["State"]
    except Exception:
        return None
    return None if state.get("Running") else int(state.get("ExitCode", 0))


def _innermost(error: BaseException | None) -> BaseException | str:
    """The error a task group wrapped, for a message a person can read."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error if error is not None else "the session ended"
