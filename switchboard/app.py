"""The ASGI application `switchboard serve` runs: API, health check and guards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agents.local_model import LocalModelServer
from agents.models.layer import ModelLayer
from agents.models.openai_api import v1_routes
from agents.runs.engine import RunEngine
from agents.runs.model_seam import routed_models
from switchboard.audit.seals import seal_forever
from switchboard.sandboxing import discover_version
from switchboard.services import Services, open_services
from switchboard.settings import Settings
from toolhost.endpoint import Toolhost
from toolhost.metrics import metrics_endpoint
from toolhost.telemetry import Telemetry
from toolhost.test_listener import serve_test_listener
from web.api.endpoints import http_problem
from web.api.routes import api_routes
from web.auth.ratelimit import SlidingWindow
from web.guards import allowed_hosts
from web.routes import identity_routes


async def healthz(request: Request) -> JSONResponse:
    """Ready when the database answers; load balancers use this to route around a bad replica."""
    services: Services = request.app.state.services
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def index(_: Request) -> JSONResponse:
    """Until the web app exists, the root says where things are."""
    return JSONResponse(
        {"service": "switchboard", "api": "/api/v1/openapi.json", "health": "/healthz"}
    )


class MCPEndpoint:
    """`/mcp`, served by the toolhost the lifespan started (a class, so Starlette routes every
    method to it as a raw ASGI app rather than wrapping it as a request handler)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        toolhost: Toolhost = scope["app"].state.toolhost
        await toolhost.app(scope, receive, send)


def create_app(settings: Settings, *, on_ready: Callable[[], None] | None = None) -> Starlette:
    """The app; `on_ready` runs once its lifespan has started everything, just before it takes
    requests (`switchboard serve` settles its heap there)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings) as services, anyio.create_task_group() as jobs:
            app.state.services = services
            app.state.jobs = jobs
            app.state.discover = discover_version
            app.state.signin_limiter = SlidingWindow(20, 300)
            app.state.registration_limiter = SlidingWindow(30, 60)
            app.state.telemetry = Telemetry(settings)
            app.state.toolhost = Toolhost(services, app.state.telemetry)
            # Started on the first request routed to it, stopped when the server stops.
            local_model = LocalModelServer.from_settings(settings)
            app.state.models = ModelLayer(
                services,
                app.state.telemetry.tracer_named("switchboard.models"),
                audit=app.state.toolhost.audit,
                local=local_model,
            )
            async with local_model, app.state.toolhost.running(), app.state.models.running():
                model_for, known_models = routed_models(app.state.models)
                app.state.runs = RunEngine(
                    services,
                    audit=app.state.toolhost.audit.write,
                    model_for=model_for,
                    known_models=known_models,
                )
                async with app.state.runs.running():
                    if settings.audit_seal_seconds:
                        jobs.start_soon(
                            seal_forever,
                            services.sessions,
                            services.audit_seal_key,
                            settings.audit_seal_seconds,
                        )
                    if settings.test_listener is not None:
                        jobs.start_soon(serve_test_listener, app, settings.test_listener)
                    if on_ready is not None:
                        on_ready()
                    yield
            await anyio.to_thread.run_sync(app.state.telemetry.shutdown)
            jobs.cancel_scope.cancel()

    return Starlette(
        # The two paths every tool call and model call take come first: Starlette tries routes
        # in order, and the API's sixty-odd would otherwise be tried before `/v1` on each call.
        routes=[
            Route("/mcp", MCPEndpoint()),
            *v1_routes(),
            Route("/", index, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint),
            *identity_routes(),
            *api_routes(),
        ],
        middleware=[
            Middleware(
                TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings.effective_public_url)
            ),
        ],
        exception_handlers={HTTPException: http_problem},
        lifespan=lifespan,
    )
