"""The run engine: starts queued runs within the concurrency limits, drives each through
pydantic-ai against Switchboard's own `/mcp`, records every step, pauses for approvals and
resumes from the stored history, and never leaves a run silently lost.

A run is claimed by one process (`runner`) with an atomic update, so several replicas can
share the queue: each runs at most `max_total` runs, and a person's `max_per_user` holds across
all of them (`agents.runs.claims`). The claiming process keeps a heartbeat on the run, and a run
whose heartbeat stops (its process died) is marked `interrupted` by whichever process notices
first.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from anyio.abc import TaskGroup
from pydantic import TypeAdapter
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, ToolDenied
from pydantic_ai.exceptions import AgentRunError, UsageLimitExceeded
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.models import Model
from pydantic_ai.output import StructuredDict
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.usage import RunUsage, UsageLimits
from sqlalchemy import func, update
from sqlmodel import col, select

from agents.availability import availability, caller
from agents.models.layer import charged_team
from agents.models.tables import ModelUsage
from agents.runs.approvals import approval_check, void_pending
from agents.runs.claims import claim
from agents.runs.events import EventLog, Redactor, add_event
from agents.runs.launch import answers_context, history_context, redactor_for
from agents.runs.lifecycle import audit_event
from agents.runs.mcp_address import default_mcp_url, loopback_mcp_url
from agents.runs.model_seam import (
    Attribution,
    ModelFor,
    NoModelLayerError,
    default_models,
    no_model,
)
from agents.runs.steps import request_events, response_events
from agents.runs.tables import (
    AgentRun,
    ApprovalStatus,
    RunApproval,
    RunStatus,
)
from agents.runs.tokens import run_token
from agents.spec import AgentDocument, agent_from_dict
from agents.spec_checks import build_problems
from agents.tables import AgentVersionRecord
from switchboard.audit.log import Event
from switchboard.services import Services

logger = logging.getLogger(__name__)

CLAIM_BATCH = 50
USAGE = TypeAdapter(RunUsage)


AuditWrite = Callable[[Event], Awaitable[None]]
ToolsetWrap = Callable[[AbstractToolset[Any]], AbstractToolset[Any]]


@dataclass(frozen=True)
class Stop:
    status: RunStatus
    reason: str | None = None
    output: Any = None


class RunEngine:
    def __init__(
        self,
        services: Services,
        *,
        audit: AuditWrite,
        model_for: ModelFor = no_model,
        known_models: Callable[[], Awaitable[Collection[str]]] = default_models,
    ) -> None:
        settings = services.settings
        self.services = services
        self.audit = audit
        self.model_for = model_for
        self.known_models = known_models
        self.events = EventLog(services.sessions)
        self.runner_id = uuid.uuid4().hex
        self.max_total = settings.agent_max_concurrent_runs
        self.max_per_user = settings.agent_max_runs_per_user
        self.heartbeat_seconds = settings.agent_heartbeat_seconds
        self.mcp_url = settings.agent_mcp_url or default_mcp_url(settings)
        self._mcp_url_fixed = settings.agent_mcp_url is not None
        self.wrap_toolset: ToolsetWrap = lambda toolset: toolset
        """A seam for measuring tool time (the overhead benchmark); the identity otherwise."""
        self._active: dict[str, anyio.CancelScope] = {}
        self._kick = anyio.Event()
        self._tasks: TaskGroup | None = None
        self._pool: httpx2.AsyncBaseTransport | None = None
        """One connection pool to `/mcp` for every run while the engine runs: a client of its
        own per run stretch cost a TLS context and a new connection each time."""

    def reached_at(self, server: tuple[str, int] | None) -> None:
        """The address a request reached this process at: `/mcp` is reachable there too
        (unless `SWITCHBOARD_AGENT_MCP_URL` says otherwise)."""
        if server is not None and not self._mcp_url_fixed:
            self.mcp_url = loopback_mcp_url(*server)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RunEngine]:
        """The queue and heartbeat loops run while the block does. Their database steps are
        shielded from the shutdown's cancellation: an aiosqlite query cancelled halfway leaves
        a connection whose close can never finish, and the event loop's shutdown waits for it
        forever."""
        await self.interrupt_stale(startup=True)
        async with httpx2.AsyncHTTPTransport() as pool, anyio.create_task_group() as tasks:
            self._pool = pool
            self._tasks = tasks
            tasks.start_soon(self._schedule_forever)
            tasks.start_soon(self._heartbeat_forever)
            try:
                yield self
            finally:
                self._tasks = None
                self._pool = None
                tasks.cancel_scope.cancel()

    def kick(self) -> None:
        """Look at the queue now rather than at the next poll."""
        self._kick.set()

    # -- the queue -------------------------------------------------------------------------

    async def _schedule_forever(self) -> None:
        while True:
            try:
                with anyio.CancelScope(shield=True):
                    await self._start_queued()
            except Exception:
                logger.exception("could not start queued agent runs")
            with anyio.move_on_after(self.heartbeat_seconds):
                await self._kick.wait()
            self._kick = anyio.Event()

    async def _start_queued(self) -> None:
        """Claim queued runs, oldest first, while this process has room. The counts read here
        only skip hopeless claims; the claim itself enforces the per-person limit."""
        async with self.services.sessions() as session:
            queued = (
                await session.exec(
                    select(AgentRun.id, AgentRun.username)
                    .where(AgentRun.status == RunStatus.queued)
                    .order_by(col(AgentRun.created_at))
                    .limit(CLAIM_BATCH)
                )
            ).all()
            if not queued:
                return
            running = (
                await session.exec(
                    select(AgentRun.username, AgentRun.runner, func.count())
                    .where(AgentRun.status == RunStatus.running)
                    .group_by(col(AgentRun.username), col(AgentRun.runner))
                )
            ).all()
        per_user: Counter[str] = Counter()
        ours = 0
        for username, runner, count in running:
            per_user[username] += count
            ours += count if runner == self.runner_id else 0
        for run_id, username in queued:
            if ours >= self.max_total or self._tasks is None:
                return
            if per_user[username] < self.max_per_user and await self._claim(run_id):
                ours += 1
                per_user[username] += 1
                self._tasks.start_soon(self._run, run_id)

    async def _claim(self, run_id: str) -> bool:
        async with self.services.transaction() as session:
            if not await claim(
                session,
                run_id,
                runner=self.runner_id,
                max_per_user=self.max_per_user,
                now=datetime.now(UTC),
            ):
                return False
            await add_event(session, run_id, "status", {"status": RunStatus.running})
        self.events.notify(run_id)
        return True

    # -- heartbeats and recovery -----------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        while True:
            await anyio.sleep(self.heartbeat_seconds)
            try:
                with anyio.CancelScope(shield=True):
                    await self._beat()
                    await self.interrupt_stale(startup=False)
            except Exception:
                logger.exception("agent run heartbeat failed")

    async def _beat(self) -> None:
        active = list(self._active)
        if not active:
            return
        async with self.services.transaction() as session:
            await session.exec(
                update(AgentRun)
                .where(col(AgentRun.id).in_(active), col(AgentRun.runner) == self.runner_id)
                .values(heartbeat_at=datetime.now(UTC))
            )
            gone = (
                await session.exec(
                    select(AgentRun.id).where(
                        col(AgentRun.id).in_(active), col(AgentRun.status) == RunStatus.cancelled
                    )
                )
            ).all()
        for run_id in gone:  # cancelled through another replica
            scope = self._active.get(run_id)
            if scope is not None:
                scope.cancel()

    async def interrupt_stale(self, *, startup: bool) -> list[str]:
        """Mark `interrupted` the running runs no live process holds any more: at start-up,
        every run this process could not be running; later, those whose heartbeat stopped,
        including this process's own whose end it could not record (`_end`)."""
        stale_before = datetime.now(UTC) - timedelta(seconds=3 * self.heartbeat_seconds)
        async with self.services.sessions() as session:
            rows = (
                await session.exec(select(AgentRun).where(AgentRun.status == RunStatus.running))
            ).all()
        interrupted = []
        for run in rows:
            beat = run.heartbeat_at
            ours = run.runner == self.runner_id
            if (ours and run.id in self._active) or (
                beat is not None and _utc(beat) > stale_before
            ):
                continue
            if ours:
                reason = "Switchboard could not record how the run ended; launch it again"
            elif startup:
                reason = "Switchboard restarted while the run was running; launch it again"
            else:
                reason = "the Switchboard process running it stopped answering; launch it again"
            if await self._finish(run.id, Stop(RunStatus.interrupted, reason), runner=run.runner):
                interrupted.append(run.id)
        return interrupted

    # -- one stretch of a run --------------------------------------------------------------

    async def _run(self, run_id: str) -> None:
        started = time.monotonic()
        stop: Stop | None = None
        try:
            with anyio.CancelScope() as scope:
                self._active[run_id] = scope
                try:
                    stop = await self._execute(run_id, started)
                except Exception as exc:
                    logger.exception("agent run %s failed", run_id)
                    reason = f"internal error ({type(exc).__name__}); see the server log"
                    if _caused_by(exc, httpx2.TransportError):
                        reason = (
                            f"could not reach the tools at {self.mcp_url}; set "
                            "SWITCHBOARD_AGENT_MCP_URL to where this server answers `/mcp`"
                        )
                    stop = Stop(RunStatus.failed, reason)
        finally:
            self._active.pop(run_id, None)
            with anyio.CancelScope(shield=True):
                if stop is None:  # cancelled: by a person (status set already) or the shutdown
                    stop = Stop(
                        RunStatus.interrupted,
                        "Switchboard stopped while the run was running; launch it again",
                    )
                await self._end(run_id, stop, time.monotonic() - started)
        self.kick()

    async def _end(self, run_id: str, stop: Stop, seconds: float) -> None:
        """Record the stretch's active time and, unless the run waits for a person, its end.

        A failure is logged, not raised: raised, it would cancel every run of this engine. The
        run is then left `running` with no heartbeat, and `interrupt_stale` ends it.
        """
        try:
            await self._add_seconds(run_id, seconds)
        except Exception:
            logger.exception("could not add agent run %s's active time", run_id)
        if stop.status == RunStatus.waiting_approval:
            return
        try:
            await self._finish(run_id, stop, runner=self.runner_id)
        except Exception:
            logger.exception("could not record the end of agent run %s (%s)", run_id, stop.status)

    async def _execute(self, run_id: str, started: float) -> Stop:
        async with self.services.sessions() as session:
            run = await session.get(AgentRun, run_id)
            assert run is not None, "claimed runs exist"
            record = await session.get(AgentVersionRecord, run.agent_version_id)
            assert record is not None, "versions are never deleted while runs point at them"
            document = agent_from_dict(record.document, f"{run.agent_name}@{run.version}")
            who = await caller(session, self.services.catalog, run.username)
            offer = await availability(
                session, self.services.catalog, who, document, models=await self.known_models()
            )
            decided = (
                await session.exec(
                    select(RunApproval).where(
                        RunApproval.run_id == run_id,
                        col(RunApproval.tool_call_id).in_(run.pending_calls),
                    )
                )
            ).all()
        answers = dict(run.answers)
        if run.sealed_answers is not None:
            hidden = self.services.secrets.open(answers_context(run_id), run.sealed_answers)
            answers.update(json.loads(hidden))
        redact = redactor_for(document, answers)
        history = (
            ModelMessagesTypeAdapter.validate_json(
                self.services.secrets.open(history_context(run_id), run.sealed_history)
            )
            if run.sealed_history is not None
            else None
        )
        refused = build_problems(document.spec)
        if refused:  # published before these checks existed
            problems = "; ".join(f"{p.pointer}: {p.message}" for p in refused)
            reason = f"{run.agent_name}@{run.version} cannot run: {problems}"
            return Stop(RunStatus.failed, f"{reason}; publish a corrected version")
        limits = document.switchboard.limits
        seconds_left = limits.wall_time_seconds - run.active_seconds
        if seconds_left <= 0:
            return _wall_time_stop(limits.wall_time_seconds)
        tools = [tool.name for tool in offer.tools if tool.granted]
        team = charged_team(who.teams, self.services.settings.default_team)
        model = self.model_for(document.switchboard.model, Attribution(run_id, run.username, team))
        token = await run_token(
            self.services.tokens,
            audience=self.services.settings.mcp_url,
            username=run.username,
            agent_name=run.agent_name,
            run_id=run_id,
            tools=tools,
            seconds_left=seconds_left,
        )
        usage = USAGE.validate_python(run.usage) if run.usage else RunUsage()
        state = _Progress(history, usage)
        try:
            with anyio.fail_after(seconds_left):
                async with self._http(token) as http:
                    toolsets = self._toolsets(document, http) if tools else []
                    output = await self._drive(
                        run_id,
                        document,
                        model,
                        toolsets,
                        prompt=None if history else document.prompt_for(answers),
                        deferred=_deferred_results(decided),
                        redact=redact,
                        state=state,
                    )
        except TimeoutError:
            await self._keep_history(run_id, state)
            return _wall_time_stop(limits.wall_time_seconds)
        except UsageLimitExceeded as exc:
            await self._keep_history(run_id, state)
            return Stop(RunStatus.failed, f"stopped at a limit of the agent: {_limit_reached(exc)}")
        except (AgentRunError, NoModelLayerError) as exc:
            await self._keep_history(run_id, state)
            return Stop(RunStatus.failed, f"the model could not go on: {exc}")
        except Exception as exc:
            if type(exc).__module__.startswith("agents.models"):
                await self._keep_history(run_id, state)
                return Stop(RunStatus.failed, f"the model layer refused: {exc}")
            raise
        await self._keep_history(run_id, state)
        if isinstance(output, DeferredToolRequests):
            return await self._pause(run_id, output, redact, time.monotonic() - started)
        return Stop(RunStatus.succeeded, output=redact(output))

    @asynccontextmanager
    async def _http(self, token: str) -> AsyncIterator[httpx2.AsyncClient]:
        """The run's own client (its token in every request) on the engine's pool."""
        public = urlsplit(self.services.settings.effective_public_url)
        async with httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "Host": public.netloc},
            timeout=httpx2.Timeout(30, read=300),
            transport=None if self._pool is None else _Borrowed(self._pool),
        ) as http:
            yield http

    def _toolsets(
        self, document: AgentDocument, http: httpx2.AsyncClient
    ) -> list[AbstractToolset[Any]]:
        mcp: MCPToolset[Any] = MCPToolset(
            self.mcp_url, id="switchboard", http_client=http, tool_error_behavior="failed"
        )
        policy = document.switchboard.approval
        return [self.wrap_toolset(mcp).approval_required(approval_check(policy))]

    async def _drive(
        self,
        run_id: str,
        document: AgentDocument,
        model: Model,
        toolsets: list[AbstractToolset[Any]],
        *,
        prompt: str | None,
        deferred: DeferredToolResults | None,
        redact: Redactor,
        state: _Progress,
    ) -> Any:
        schema = document.spec.output_schema
        agent: Agent[None, Any] = Agent.from_spec(
            document.spec,
            model=model,
            toolsets=toolsets,
            output_type=[StructuredDict(schema) if schema else str, DeferredToolRequests],
        )
        limits = document.switchboard.limits
        usage_limits = UsageLimits(
            request_limit=limits.requests,
            tool_calls_limit=limits.tool_calls,
            total_tokens_limit=limits.tokens,
        )
        resuming = state.history is not None
        async with agent.iter(
            prompt,
            message_history=state.history,
            deferred_tool_results=deferred,
            usage_limits=usage_limits,
            usage=state.usage,
        ) as agent_run:
            try:
                async for node in agent_run:
                    if Agent.is_call_tools_node(node):
                        if resuming:  # the response that paused the run, recorded then
                            resuming = False
                            continue
                        await self._record(run_id, response_events(node.model_response, redact))
                    elif Agent.is_model_request_node(node):
                        resuming = False
                        await self._record(run_id, request_events(node.request, redact))
                        if limits.cost is not None:
                            await self._check_cost(run_id, limits.cost)
            finally:
                state.history = agent_run.all_messages()
                state.usage = agent_run.usage
            result = agent_run.result
            assert result is not None, "the graph reached its end"
            return result.output

    async def _check_cost(self, run_id: str, limit: float) -> None:
        """Before the next model request: stop once the run's model calls (every stretch of
        it, as the model layer committed them) cost `limit` or more."""
        async with self.services.sessions() as session:
            spent = (
                await session.exec(
                    select(func.coalesce(func.sum(ModelUsage.cost), 0.0)).where(
                        col(ModelUsage.run_id) == run_id
                    )
                )
            ).one()
        if spent >= limit:
            raise UsageLimitExceeded(f"cost limit of {limit:g} reached (spent {spent:g})")

    async def _record(self, run_id: str, events: Any) -> None:
        for kind, data in events:
            await self.events.append(run_id, kind, data)

    async def _keep_history(self, run_id: str, state: _Progress) -> None:
        if state.history is None:
            return
        sealed = self.services.secrets.seal(
            history_context(run_id), ModelMessagesTypeAdapter.dump_json(state.history).decode()
        )
        async with self.services.transaction() as session:
            await session.exec(
                update(AgentRun)
                .where(col(AgentRun.id) == run_id)
                .values(sealed_history=sealed, usage=USAGE.dump_python(state.usage, mode="json"))
            )

    async def _pause(
        self, run_id: str, requests: DeferredToolRequests, redact: Redactor, seconds: float
    ) -> Stop:
        tools = ", ".join(sorted({call.tool_name for call in requests.approvals}))
        reason = f"waiting for approval to call {tools}"
        async with self.services.transaction() as session:
            # Conditional, like `_finish`: a cancel committed meanwhile must not be overwritten.
            paused = await session.exec(
                update(AgentRun)
                .where(
                    col(AgentRun.id) == run_id,
                    col(AgentRun.status) == RunStatus.running,
                    col(AgentRun.runner) == self.runner_id,
                )
                .values(
                    status=RunStatus.waiting_approval,
                    reason=reason,
                    pending_calls=[call.tool_call_id for call in requests.approvals],
                    runner=None,
                )
            )
            if paused.rowcount != 1:
                return Stop(RunStatus.cancelled)
            for call in requests.approvals:
                approval = RunApproval(
                    run_id=run_id,
                    tool_call_id=call.tool_call_id,
                    tool=call.tool_name,
                    arguments=redact(call.args_as_dict()),
                )
                session.add(approval)
                await session.flush()
                await add_event(
                    session,
                    run_id,
                    "approval_request",
                    {
                        "approval_id": approval.id,
                        "tool": call.tool_name,
                        "tool_call_id": call.tool_call_id,
                        "arguments": approval.arguments,
                    },
                )
            await add_event(
                session, run_id, "status", {"status": RunStatus.waiting_approval, "reason": reason}
            )
            run = await session.get(AgentRun, run_id)
            assert run is not None
        self.events.notify(run_id)
        await self.audit(audit_event(run, "agent.run.waiting", "waiting_approval", reason=reason))
        return Stop(RunStatus.waiting_approval, reason)

    async def _add_seconds(self, run_id: str, seconds: float) -> None:
        async with self.services.transaction() as session:
            await session.exec(
                update(AgentRun)
                .where(col(AgentRun.id) == run_id)
                .values(active_seconds=AgentRun.active_seconds + seconds)
            )

    async def _finish(self, run_id: str, stop: Stop, *, runner: str | None) -> bool:
        """End a running run, unless something else (a cancel) ended it first."""
        async with self.services.transaction() as session:
            done = await session.exec(
                update(AgentRun)
                .where(
                    col(AgentRun.id) == run_id,
                    col(AgentRun.status) == RunStatus.running,
                    col(AgentRun.runner) == runner,
                )
                .values(
                    status=stop.status,
                    reason=stop.reason,
                    output=stop.output,
                    finished_at=datetime.now(UTC),
                    runner=None,
                )
            )
            if done.rowcount != 1:
                return False
            await void_pending(session, run_id)
            if stop.output is not None:
                await add_event(session, run_id, "output", {"output": stop.output})
            if stop.status != RunStatus.succeeded:
                await add_event(session, run_id, "error", {"message": stop.reason})
            data = {"status": stop.status, "reason": stop.reason}
            await add_event(session, run_id, "status", data)
            run = await session.get(AgentRun, run_id)
            assert run is not None
        self.events.notify(run_id)
        await self.audit(audit_event(run, "agent.run.finish", stop.status, reason=stop.reason))
        return True

    # -- requests from people ---------------------------------------------------------------

    def cancelled(self, run_id: str) -> None:
        """After a committed cancel: stop the run if it runs here, wake its followers."""
        scope = self._active.get(run_id)
        if scope is not None:
            scope.cancel()
        self.events.notify(run_id)


@dataclass
class _Progress:
    history: list[ModelMessage] | None
    usage: RunUsage


class _Borrowed(httpx2.AsyncBaseTransport):
    """The engine's pool lent to one run's client, whose closing must leave it open."""

    def __init__(self, pool: httpx2.AsyncBaseTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        """The engine closes the pool when it stops."""


def _deferred_results(decided: Any) -> DeferredToolResults | None:
    approvals: dict[str, bool | ToolDenied] = {}
    for approval in decided:
        if approval.status == ApprovalStatus.approved:
            approvals[approval.tool_call_id] = True
        elif approval.status == ApprovalStatus.denied:
            note = f": {approval.note}" if approval.note else ""
            approvals[approval.tool_call_id] = ToolDenied(
                f"{approval.decided_by} denied this tool call{note}"
            )
    return DeferredToolResults(approvals=dict(approvals)) if approvals else None


def _limit_reached(exc: UsageLimitExceeded) -> str:
    """Which limit, without the advice pydantic-ai adds for developers (a link to its docs)."""
    return exc.message.partition(" Consider raising the limit")[0].removesuffix(".")


def _wall_time_stop(seconds: float) -> Stop:
    return Stop(RunStatus.failed, f"stopped at the agent's wall-time limit of {seconds:g} s")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
