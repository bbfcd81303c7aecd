"""`tools/call`: the one path every tool call in Switchboard takes.

authorise (the caller's granted tools, narrowed by the token's scopes, read on this very request)
-> validate the arguments -> rate limit -> lease a sandbox -> forward with timeout, cancellation
and progress -> check `structuredContent` and the size -> audit (durably) -> respond.

Problems with the request itself are JSON-RPC errors (unknown tool: -32602; over the rate limit);
problems running the tool are results with `isError: true`, which a model can read and act on.
Every call that names a tool the caller may use is audited, whatever its outcome, and so is
one naming a tool of a server the caller's teams are not granted (outcome `denied`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from sqlmodel import col, select

from registry.models import ReviewStatus, Server, ServerVersion
from registry.visibility import IndexedTool, standing
from sandboxes.errors import SandboxError
from sandboxes.tasks import CreatedTask
from switchboard.audit.log import Event
from switchboard.audit.writer import AuditUnavailableError, AuditWriter
from switchboard.identity.principal import Principal
from switchboard.services import Services
from toolhost.authentication import principal_of, revision_of, usable_tools
from toolhost.hosted import HostedVersion, load_hosted
from toolhost.input_rounds import InputRounds, binding
from toolhost.naming import Naming
from toolhost.peer import CallerPeer
from toolhost.ratelimit import CallLimits
from toolhost.relayed import as_own
from toolhost.routing import LeaseOwner, SandboxRouter, quarantine_message
from toolhost.task_handles import Handle, TaskHandles
from toolhost.telemetry import CallObservation, Telemetry
from toolhost.toolserver import ToolServer
from toolhost.validation import SchemaChecks, UnusableSchemaError

logger = logging.getLogger(__name__)

RATE_LIMITED = -32029
"""A server-defined JSON-RPC error code (the -32000 to -32099 range) for "slow down"."""


ToolsCallResult = types.CallToolResult | types.InputRequiredResult | CreatedTask


@dataclass(frozen=True)
class Outcome:
    result: ToolsCallResult
    outcome: str
    error_class: str | None = None
    task: str | None = None
    """The server's id of the task the call created."""


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def arguments_digest(arguments: dict[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class CallPath:
    def __init__(
        self,
        services: Services,
        router: SandboxRouter,
        audit: AuditWriter,
        telemetry: Telemetry,
    ) -> None:
        settings = services.settings
        self.services = services
        self.router = router
        self.audit = audit
        self.telemetry = telemetry
        self.limits = CallLimits(settings.rate_limit_per_caller, settings.rate_limit_per_tool)
        self.max_result_bytes = settings.max_result_bytes
        self.checks = SchemaChecks()
        self.rounds = InputRounds(services.secrets)
        self.tasks = TaskHandles(services.secrets, settings.task_ttl_seconds)
        self._hosted: dict[int, HostedVersion] = {}
        self._revision = -1
        self.log_levels: dict[LeaseOwner, str] = {}
        """The level each handshake-era session set with `logging/setLevel`, until it ends."""

    async def hosted(self, version_id: int, revision: int) -> HostedVersion:
        """The version as of catalogue `revision` (the caller's): a newer revision empties the
        cache, and the router's quarantine list, whose source of truth is the database."""
        if revision > self._revision:
            self._revision = revision
            self._hosted.clear()
            self.router.quarantined.clear()
        hosted = self._hosted.get(version_id)
        if hosted is None:
            async with self.services.sessions() as session:
                hosted = await load_hosted(session, version_id)
            if hosted is None:
                raise MCPError(types.INVALID_PARAMS, "the tool's server version no longer exists")
            self._hosted[version_id] = hosted
        return hosted

    async def __call__(
        self, ctx: ServerRequestContext[Services], params: types.CallToolRequestParams
    ) -> ToolsCallResult:
        request = ctx.request
        if request is None:
            raise MCPError(types.INTERNAL_ERROR, "the toolhost serves HTTP requests only")
        principal = principal_of(request.scope)
        name = Naming.of(request.scope).internal(params.name)
        tool = usable_tools(request.scope).get(name)
        if tool is None:
            raise await self._refusal(principal, name, params)
        hosted = await self.hosted(tool.version_id, revision_of(request.scope))
        own_name = tool.name.removeprefix(hosted.slug + ".")
        arguments = dict(params.arguments or {})
        started = time.perf_counter()
        with self.telemetry.call(
            server=hosted.slug,
            tool=own_name,
            caller=principal.username,
            on_behalf_of=principal.on_behalf_of,
            client=principal.client_id,
        ) as observation:
            try:
                done = await self._run(
                    ctx, principal, hosted, own_name, tool, params, arguments, observation
                )
            except MCPError as exc:
                observation.outcome("rejected", type(exc).__name__)
                await self._audit(principal, hosted, own_name, arguments, started, exc)
                raise
            except anyio.get_cancelled_exc_class():
                cancelled = Outcome(error_result("the call was cancelled"), "cancelled")
                await self._audit(principal, hosted, own_name, arguments, started, cancelled)
                raise
            except Exception as exc:
                logger.exception("tools/call %s failed unexpectedly", tool.name)
                done = Outcome(
                    error_result(f"Switchboard could not run {tool.name}: an internal error"),
                    "error",
                    type(exc).__name__,
                )
            observation.outcome(done.outcome, done.error_class)
            await self._audit(principal, hosted, own_name, arguments, started, done)
            return done.result

    async def _refusal(
        self, principal: Principal, name: str, params: types.CallToolRequestParams
    ) -> MCPError:
        """The error for a tool the caller may not use. A call naming a real server's tool is
        audited: a caller trying what they may not is the security team's business. Only a
        caller whose teams hold a grant learns that the version is quarantined; to anyone else
        the tool is as unknown as one that does not exist."""
        unknown = MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        slug, _, own = name.partition(".")
        async with self.services.sessions() as session:
            server = (await session.exec(select(Server).where(col(Server.slug) == slug))).first()
            if server is None or not own:
                return unknown
            state = await standing(session, principal.username)
            live = server.live_version_id
            version = None if live is None else await session.get(ServerVersion, live)
        granted = state is not None and any(grant == server.id for grant, _ in state.grants)
        if not granted:
            error, outcome, reason = unknown, "denied", "not granted to the caller's teams"
        elif version is not None and version.status == ReviewStatus.quarantined:
            label = f"{server.name}@{version.version}"
            error = MCPError(types.INVALID_PARAMS, quarantine_message(label))
            outcome, reason = "rejected", f"{label} is quarantined"
        else:
            return unknown
        event = Event(
            actor=principal.username,
            action="tool.call",
            outcome=outcome,
            target=name,
            on_behalf_of=principal.on_behalf_of,
            client=principal.client_id,
            detail={
                "server": slug,
                "tool": own,
                "arguments_digest": arguments_digest(dict(params.arguments or {})),
                "error_class": f"jsonrpc:{error.error.code}",
                "reason": reason,
                "credential": principal.credential_id,
            },
        )
        await self._durably(event)
        return error

    async def _run(
        self,
        ctx: ServerRequestContext[Services],
        principal: Principal,
        hosted: HostedVersion,
        own_name: str,
        tool: IndexedTool,
        params: types.CallToolRequestParams,
        arguments: dict[str, Any],
        observation: CallObservation,
    ) -> Outcome:
        try:
            problem = self.checks.problem(tool.wire.get("inputSchema"), arguments)
        except UnusableSchemaError as exc:
            message = f"{tool.name} cannot be called: its input schema is unusable: {exc}"
            return Outcome(error_result(message), "error", "SchemaError")
        if problem is not None:
            message = f"Invalid arguments for tool {tool.name}: {problem}"
            return Outcome(error_result(message), "invalid_arguments", "ValidationError")
        wait = self.limits.check(principal.username, tool.name)
        if wait:
            raise MCPError(
                RATE_LIMITED,
                f"Rate limit exceeded for {tool.name}; retry after {wait} s",
                {"retryAfter": wait},
            )
        bound_to = binding(principal, f"tools/call {tool.name}", hosted.version_id)
        input_round = self.rounds.of(ctx, params, bound_to)
        progress = _progress_forwarder(ctx)
        owner = lease_owner(ctx)
        try:
            async with self.router.lease(hosted, owner) as (sandbox, started):
                observation.sandbox(started=started)
                with sandbox.attached(CallerPeer(ctx)):
                    result = await sandbox.call_tool(
                        own_name,
                        arguments,
                        timeout=hosted.call_timeout,
                        progress=progress,
                        meta=self._log_opt_in(ctx),
                        input_round=input_round,
                    )
                if isinstance(result, CreatedTask):
                    return self._task(principal, owner, hosted, tool, sandbox, result)
        except SandboxError as exc:
            return Outcome(error_result(str(exc).split("\n---", 1)[0]), "error", type(exc).__name__)
        if isinstance(result, types.InputRequiredResult):
            return Outcome(self.rounds.asked(result, bound_to), "input_required")
        return self.checked(tool, as_own(result))

    def _task(
        self,
        principal: Principal,
        owner: LeaseOwner,
        hosted: HostedVersion,
        tool: IndexedTool,
        sandbox: ToolServer,
        task: CreatedTask,
    ) -> Outcome:
        """The caller's `CreateTaskResult`: the server's, under a handle sealed to the caller,
        with the lease running the task kept for as long as the task may be reached."""
        ttl_ms = self.tasks.ttl_ms(task)
        handle = Handle(
            version_id=hosted.version_id,
            tool=tool.name,
            session=owner.session,
            lease=self.router.keep(hosted, owner, sandbox, ttl_ms / 1000),
            task_id=task.task_id,
            created_at=task.created_at,
            ttl_ms=ttl_ms,
        )
        token = self.tasks.hand_out(principal.username, handle)
        created = as_own(task.model_copy(update={"task_id": token, "ttl_ms": ttl_ms}))
        return Outcome(created, "task", task=task.task_id)

    def _log_opt_in(self, ctx: ServerRequestContext[Services]) -> dict[str, Any] | None:
        """The caller's log level, as the `_meta` opt-in a 2026-07-28 server reads."""
        level = (ctx.meta or {}).get(types.LOG_LEVEL_META_KEY) or self.log_levels.get(
            lease_owner(ctx)
        )
        return {types.LOG_LEVEL_META_KEY: level} if level else None

    def checked(self, tool: IndexedTool, result: types.CallToolResult) -> Outcome:
        """`result` as the caller may have it: its structured content fits the tool's output
        schema and it is no larger than SWITCHBOARD_MAX_RESULT_BYTES, else an error result."""
        schema = tool.wire.get("outputSchema")
        if schema and not result.is_error:
            if result.structured_content is None:
                message = (
                    f"{tool.name} declares an output schema but returned no structured content"
                )
                return Outcome(error_result(message), "error", "OutputSchemaError")
            try:
                problem = self.checks.problem(schema, result.structured_content)
            except UnusableSchemaError as exc:
                message = f"{tool.name}'s output schema is unusable: {exc}"
                return Outcome(error_result(message), "error", "SchemaError")
            if problem is not None:
                message = f"{tool.name} returned output that does not match its schema: {problem}"
                return Outcome(error_result(message), "error", "OutputSchemaError")
        size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
        if size > self.max_result_bytes:
            message = (
                f"{tool.name} returned {size} bytes, more than the {self.max_result_bytes} "
                "bytes a result may have (SWITCHBOARD_MAX_RESULT_BYTES)"
            )
            return Outcome(error_result(message), "error", "ResultTooLargeError")
        if result.is_error:
            return Outcome(result, "error", "tool_error")
        return Outcome(result, "ok", None)

    async def _audit(
        self,
        principal: Principal,
        hosted: HostedVersion,
        own_name: str,
        arguments: dict[str, Any],
        started: float,
        done: Outcome | MCPError,
    ) -> None:
        detail: dict[str, Any] = {
            "tool": own_name,
            "arguments_digest": arguments_digest(arguments),
        }
        if hosted.audit_arguments:
            detail["arguments"] = arguments
        error_class: str | None
        if isinstance(done, MCPError):
            outcome, error_class = "rejected", f"jsonrpc:{done.error.code}"
            detail["error"] = done.error.message
        else:
            outcome, error_class = done.outcome, done.error_class
        if error_class is not None:
            detail["error_class"] = error_class
        if isinstance(done, Outcome) and done.task is not None:
            detail["task"] = done.task
        await self.record(
            principal,
            hosted,
            action="tool.call",
            target=f"{hosted.slug}.{own_name}",
            outcome=outcome,
            started=started,
            detail=detail,
        )

    async def record(
        self,
        principal: Principal,
        hosted: HostedVersion,
        *,
        action: str,
        target: str,
        outcome: str,
        started: float,
        detail: dict[str, Any],
    ) -> None:
        """One durable audit record of a request to `hosted` (tool calls, resource reads, prompt
        gets), with the server version, the duration since `started` and the credential."""
        event = Event(
            actor=principal.username,
            action=action,
            outcome=outcome,
            target=target,
            on_behalf_of=principal.on_behalf_of,
            client=principal.client_id,
            detail={
                "server": hosted.slug,
                "version": hosted.version,
                "version_id": hosted.version_id,
                **detail,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "credential": principal.credential_id,
            },
        )
        await self._durably(event)

    async def _durably(self, event: Event) -> None:
        try:
            with anyio.CancelScope(shield=True):
                await self.audit.write(event)
        except AuditUnavailableError as exc:
            raise MCPError(
                types.INTERNAL_ERROR, "the call's audit record could not be written; try again"
            ) from exc


def lease_owner(ctx: ServerRequestContext[Services]) -> LeaseOwner:
    """Whose sandbox serves this request: the caller's handshake-era session's, else the
    caller's own."""
    request = ctx.request
    if request is None:
        raise MCPError(types.INTERNAL_ERROR, "the toolhost serves HTTP requests only")
    return LeaseOwner(principal_of(request.scope).username, handshake_session(ctx))


def handshake_session(ctx: ServerRequestContext[Services]) -> str | None:
    """The handshake-era (2025-06-18, 2025-11-25) MCP session this request came on, if any.

    Only there has the SDK's session manager matched `Mcp-Session-Id` to a session the same
    credential opened (it answers any other value 404 before a handler runs). A 2026-07-28
    request has no session: its header is whatever the client made up, so it keys nothing.
    The era is the request's negotiated protocol version, not a header the client chose."""
    request = ctx.request
    if request is None or ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None
    session_id: str | None = request.headers.get(MCP_SESSION_ID_HEADER)
    return session_id


def _progress_forwarder(ctx: ServerRequestContext[Services]) -> Any:
    """Relay the tool server's progress to the caller under the caller's own progress token
    (a no-op when the caller asked for none)."""

    async def forward(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.report_progress(progress, total, message)

    return forward
