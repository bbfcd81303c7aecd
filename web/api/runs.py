"""Agent runs: `/agents/{name}/runs` to launch, `/runs` to follow, cancel and decide approvals.

`GET /runs/{id}/events` is a server-sent event stream: the run's history, then its new events as
they happen, until it has finished; `Last-Event-ID` (or `?after=`) resumes after an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from agents.runs import service
from agents.runs.engine import RunEngine
from agents.runs.errors import RunNotFoundError
from agents.runs.tables import AgentRun
from agents.runs.views import RunView
from registry.errors import RegistryError
from switchboard.audit.log import Event
from web.api.deps import authenticate, principal, services
from web.api.endpoints import Endpoint, flag, problem_response


class LaunchBody(BaseModel):
    answers: dict[str, Any] = Field(default_factory=dict)
    """The launch form's answers, by question key."""
    version: str | None = Field(default=None, description="default: the newest version")


class DecisionBody(BaseModel):
    approve: bool
    note: str | None = Field(default=None, max_length=2000)


def engine_of(request: Request) -> RunEngine:
    engine: RunEngine = request.app.state.runs
    engine.reached_at(request.scope.get("server"))
    return engine


async def _audit(request: Request, event: Event) -> None:
    await request.app.state.toolhost.audit.write(event)


async def _run(request: Request, run_id: str) -> AgentRun:
    caller = principal(request)
    return await service.visible_run(services(request), run_id, caller.username, caller.role)


async def launch_run(request: Request, name: str, body: LaunchBody) -> RunView:
    engine = engine_of(request)
    view = await service.start(
        services(request),
        lambda event: _audit(request, event),
        username=principal(request).username,
        agent=name,
        answers=body.answers,
        version=body.version,
        models=await engine.known_models(),
    )
    engine.kick()
    return view


async def list_runs(request: Request, status: str | None, everyone: str | None) -> list[RunView]:
    caller = principal(request)
    return await service.list_runs(
        services(request),
        caller.username,
        role=caller.role,
        everyone=flag("everyone", everyone),
        status=status,
    )


async def show_run(request: Request, run_id: str) -> RunView:
    return await service.show(services(request), await _run(request, run_id))


async def cancel_run(request: Request, run_id: str) -> RunView:
    caller = principal(request)
    run = await _run(request, run_id)
    view = await service.cancel(
        services(request),
        lambda event: _audit(request, event),
        run,
        by=caller.username,
        role=caller.role,
    )
    engine_of(request).cancelled(run.id)
    return view


async def decide_approval(
    request: Request, run_id: str, approval_id: str, body: DecisionBody
) -> RunView:
    if not approval_id.isdigit() or len(approval_id) > 18:
        raise RunNotFoundError(f"run {run_id} has no approval {approval_id!r}")
    run = await _run(request, run_id)
    view, resume = await service.decide(
        services(request),
        lambda event: _audit(request, event),
        run,
        int(approval_id),
        by=principal(request).username,
        approve=body.approve,
        note=body.note,
    )
    engine = engine_of(request)
    engine.events.notify(run.id)
    if resume:
        engine.kick()
    return view


async def run_events(request: Request) -> Response:
    """Server-sent events; not an `Endpoint`, since it streams instead of answering JSON."""
    try:
        request.state.principal = await authenticate(request)
        run = await _run(request, request.path_params["run_id"])
    except RegistryError as exc:
        return problem_response(exc)
    resume = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    after = int(resume) if resume.isdigit() and len(resume) < 18 else 0
    events = engine_of(request).events

    async def stream() -> AsyncIterator[str]:
        async for event in events.follow(run.id, after):
            if event is None:
                yield ": keep-alive\n\n"
                continue
            data = json.dumps(
                {"seq": event.seq, "at": event.at.isoformat(), **event.data},
                ensure_ascii=False,
                default=str,
            )
            yield f"id: {event.seq}\nevent: {event.kind}\ndata: {data}\n\n"
        yield "event: end\ndata: {}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def event_routes(prefix: str) -> list[BaseRoute]:
    return [Route(prefix + "/runs/{run_id}/events", run_events, methods=["GET"])]


ENDPOINTS = [
    Endpoint(
        "POST",
        "/agents/{name}/runs",
        launch_run,
        "Launch an agent with the launch form's answers; the run is queued, then runs "
        "(follow it at `/runs/{id}/events`)",
        body=LaunchBody,
        response=RunView,
        status=201,
        tags=("runs",),
    ),
    Endpoint(
        "GET",
        "/runs",
        list_runs,
        "Your runs, newest first (`everyone=true`: everyone's, for security and admin)",
        response=list[RunView],
        query=("status", "everyone"),
        tags=("runs",),
    ),
    Endpoint("GET", "/runs/{run_id}", show_run, "A run", response=RunView, tags=("runs",)),
    Endpoint(
        "POST",
        "/runs/{run_id}/cancel",
        cancel_run,
        "Cancel a run (it stops at once; pending approvals are void)",
        response=RunView,
        tags=("runs",),
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/approvals/{approval_id}",
        decide_approval,
        "Approve or deny a tool call the run waits on, with a note; the run resumes once "
        "every call it waits on is decided",
        body=DecisionBody,
        response=RunView,
        tags=("runs",),
    ),
]
