"""The tasks extension (MCP 2026-07-28, SEP-2663) through `/mcp`: `tasks/get`, `tasks/update` and
`tasks/cancel`, each sent to the sandbox running the task.

A caller that declares the extension may get a `CreateTaskResult` from a task-supporting tool
(`toolhost.calls`), whose id is a handle sealed to that caller (`toolhost.task_handles`). A
request about the task opens the handle, checks the caller may still use the tool, and goes to
the very sandbox that created the task, never a new one. A task whose sandbox has stopped (it
crashed, or Switchboard restarted) is `failed`, as the extension reports a server crash.

Audited like tool calls: each `tasks/update` (`task.update`: the caller's answers reach the
server) and `tasks/cancel` (`task.cancel`), and the task's end, once, when a `tasks/get` first
sees it (`task.end`, with the outcome a tool call would have had). Polling is not audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field, ValidationError

from registry.visibility import IndexedTool
from sandboxes.errors import SandboxError
from sandboxes.tasks import TASKS_EXTENSION, TERMINAL, DetailedTask, declares_tasks
from switchboard.identity.principal import Principal
from switchboard.services import Services
from toolhost.authentication import principal_of, revision_of, usable_tools
from toolhost.calls import CallPath, Outcome, arguments_digest, handshake_session
from toolhost.hosted import HostedVersion
from toolhost.relayed import as_own
from toolhost.routing import LeaseOwner
from toolhost.task_handles import Handle

Context = ServerRequestContext[Services]
REQUEST_TIMEOUT = 30.0


class TaskParams(types.RequestParams):
    task_id: str


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    """A tasks request that passed every check: who asks, about which task, and where it runs."""

    principal: Principal
    hosted: HostedVersion
    tool: IndexedTool
    handle: Handle
    token: str
    """The task id as the caller knows it."""
    capabilities: dict[str, Any] | None


class TaskRequests:
    def __init__(self, calls: CallPath) -> None:
        self._calls = calls

    async def get(self, ctx: Context, params: TaskParams) -> DetailedTask:
        request = await self._checked(ctx, params)
        try:
            raw = await self._send(request, "tasks/get", {})
        except SandboxError as exc:
            task = _lost(request.handle, str(exc))
        else:
            task = _detailed(request, raw)
        checked = None
        if task.status == "completed" and task.result is not None:
            checked = self._calls.checked(request.tool, as_own(task.result))
            task = task.model_copy(update={"result": checked.result})
        if task.status in TERMINAL and self._calls.tasks.ended(request.handle):
            await self._audit_end(request, task, checked)
        return as_own(
            task.model_copy(update={"task_id": request.token, "ttl_ms": request.handle.ttl_ms})
        )

    async def update(self, ctx: Context, params: TaskUpdateParams) -> types.EmptyResult:
        """The caller's answers to the questions the task waits on; the server ignores any
        answer to a question it did not ask, as it ignores an update of an ended task."""
        request = await self._checked(ctx, params)
        detail = {"answers_digest": arguments_digest(params.input_responses)}
        fields = {"inputResponses": params.input_responses}
        await self._audited(request, "tasks/update", fields, detail)
        return types.EmptyResult()

    async def cancel(self, ctx: Context, params: TaskParams) -> types.EmptyResult:
        """Stop the task; cancelling an ended (or lost) one is not an error."""
        request = await self._checked(ctx, params)
        await self._audited(request, "tasks/cancel", {}, {})
        return types.EmptyResult()

    async def _checked(self, ctx: Context, params: TaskParams) -> _Request:
        """The extension was declared, `Mcp-Name` names the task, the handle is the caller's and
        the caller may still use the tool; in that order, as the conformance suite expects."""
        http = ctx.request
        if http is None:
            raise MCPError(types.INTERNAL_ERROR, "the toolhost serves HTTP requests only")
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        declared = (ctx.meta or {}).get(types.CLIENT_CAPABILITIES_META_KEY)
        capabilities = declared if modern and isinstance(declared, dict) else None
        if not declares_tasks(capabilities if modern else ctx.session.client_capabilities):
            raise MCPError(
                types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"Declare the {TASKS_EXTENSION} extension in the client capabilities to use tasks",
                {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
            )
        if modern and decode_header_value(http.headers.get(MCP_NAME_HEADER)) != params.task_id:
            raise MCPError(
                types.HEADER_MISMATCH,
                f"{MCP_NAME_HEADER} header does not match the request body's 'taskId' parameter",
            )
        principal = principal_of(http.scope)
        handle = self._calls.tasks.take_back(principal.username, params.task_id)
        if handle is None or handle.session != handshake_session(ctx):
            raise unknown_task(params.task_id, "it is not a task of yours, or it has expired")
        if not self._calls.router.started_here(handle.lease):
            raise unknown_task(
                params.task_id,
                "it ran in a Switchboard process that has since stopped, or in another replica",
            )
        tool = usable_tools(http.scope).get(handle.tool)
        if tool is None or tool.version_id != handle.version_id:
            raise unknown_task(
                params.task_id, f"{handle.tool} is no longer yours to use, or runs another version"
            )
        hosted = await self._calls.hosted(handle.version_id, revision_of(http.scope))
        return _Request(principal, hosted, tool, handle, params.task_id, capabilities)

    async def _send(self, request: _Request, method: str, fields: dict[str, Any]) -> dict[str, Any]:
        """`method` about the task, to the sandbox that runs it; the server's errors name the
        task by the id the caller knows."""
        owner = LeaseOwner(request.principal.username, request.handle.session)
        own_id = request.handle.task_id
        params = {"taskId": own_id, **fields}
        async with self._calls.router.holding(
            request.hosted, owner, request.handle.lease
        ) as sandbox:
            try:
                return await sandbox.task_request(
                    method, params, capabilities=request.capabilities, timeout=REQUEST_TIMEOUT
                )
            except MCPError as exc:
                error = exc.error
                data = error.data
                if isinstance(data, dict) and data.get("taskId") == own_id:
                    data = {**data, "taskId": request.token}
                message = error.message.replace(own_id, request.token)
                raise MCPError(error.code, message, data) from exc

    async def _audited(
        self, request: _Request, method: str, fields: dict[str, Any], detail: dict[str, Any]
    ) -> None:
        """`method` sent on, audited as `task.update` or `task.cancel`; a task whose sandbox
        stopped has ended, so there is nothing to send (outcome `lost`)."""
        started = time.perf_counter()
        outcome, error_class = "ok", None
        try:
            await self._send(request, method, fields)
        except SandboxError:
            outcome = "lost"
        except MCPError as exc:
            outcome, error_class = "rejected", f"jsonrpc:{exc.error.code}"
            raise
        finally:
            if error_class is not None:
                detail = {**detail, "error_class": error_class}
            action = method.replace("tasks/", "task.")
            await self._record(request, action, outcome, started, detail)

    async def _audit_end(
        self, request: _Request, task: DetailedTask, checked: Outcome | None
    ) -> None:
        """`checked`: the completed task's result as the call path judged it."""
        if checked is not None:
            ended, error_class = checked.outcome, checked.error_class
        elif task.status == "failed":
            code = task.error.code if task.error is not None else types.INTERNAL_ERROR
            ended, error_class = "error", f"jsonrpc:{code}"
        else:
            ended, error_class = "cancelled", None
        detail = {"status": task.status, "created_at": task.created_at}
        if error_class is not None:
            detail["error_class"] = error_class
        await self._record(request, "task.end", ended, time.perf_counter(), detail)

    async def _record(
        self,
        request: _Request,
        action: str,
        outcome: str,
        started: float,
        detail: dict[str, Any],
    ) -> None:
        await self._calls.record(
            request.principal,
            request.hosted,
            action=action,
            target=request.tool.name,
            outcome=outcome,
            started=started,
            detail={
                "tool": request.tool.name.removeprefix(request.hosted.slug + "."),
                "task": request.handle.task_id,
                **detail,
            },
        )


def unknown_task(token: str, why: str) -> MCPError:
    shown = token if len(token) <= 24 else token[:20] + "..."
    return MCPError(types.INVALID_PARAMS, f"Unknown task {shown}: {why}", {"taskId": token})


def _detailed(request: _Request, raw: dict[str, Any]) -> DetailedTask:
    try:
        task = DetailedTask.model_validate(raw, by_name=False)
    except ValidationError as exc:
        raise MCPError(
            types.INTERNAL_ERROR,
            f"{request.hosted.label} answered tasks/get with something that is not a task",
        ) from exc
    if task.task_id != request.handle.task_id:
        raise MCPError(
            types.INTERNAL_ERROR, f"{request.hosted.label} answered tasks/get about another task"
        )
    return task


def _lost(handle: Handle, why: str) -> DetailedTask:
    """A task whose sandbox stopped: failed, as the extension reports a server crash."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return DetailedTask(
        task_id=handle.task_id,
        status="failed",
        created_at=handle.created_at,
        last_updated_at=now,
        error=types.ErrorData(
            code=types.INTERNAL_ERROR,
            message=f"{why.split(chr(10), 1)[0]}; the task ended with it",
        ),
    )
