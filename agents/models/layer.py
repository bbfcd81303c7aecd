"""The routed model layer of one process: the shared HTTP client, the model file, the router.

`switchboard serve` builds one in its lifespan (`app.state.models`); the agent engine asks it
for pydantic-ai models (`ModelLayer.model`), and `/v1` routes requests through it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

from opentelemetry.trace import Tracer
from pydantic_ai.models import Model

from agents.models.endpoints import Endpoints, LocalEndpoint
from agents.models.errors import ModelLayerError
from agents.models.ledger import UsageLedger
from agents.models.pydantic_model import routed_model
from agents.models.router import Attribution, Router
from agents.models.store import ConfigStore
from agents.models.transport import AiohttpTransport
from switchboard.audit.writer import AuditWriter
from switchboard.services import Services


class ForbiddenTeamError(ModelLayerError):
    status_code = 403
    code = "forbidden_team"


class ModelLayer:
    def __init__(
        self,
        services: Services,
        tracer: Tracer,
        *,
        audit: AuditWriter | None = None,
        local: LocalEndpoint | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        settings = services.settings
        self.services = services
        self.audit = audit
        """The process's audit writer (the toolhost's): `/v1` audit records and usage records
        commit in its batches. Without one (tests of the router alone) usage is committed per
        call and nothing is audited."""
        self.store = ConfigStore(
            services.sessions,
            services.secrets,
            settings.models_file,
            settings.models_refresh_seconds,
        )
        self.endpoints = Endpoints(self.store, local, environ)
        self.ledger = UsageLedger(services.sessions, self.audit)
        self._tracer = tracer
        self._router: Router | None = None

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("the model layer is not running: use `async with layer.running()`")
        return self._router

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ModelLayer]:
        """Load the model file (a bad one stops start-up, naming the field) and open the one
        connection pool every provider call shares."""
        await self.store.load()
        async with AiohttpTransport(max_connections=200, max_per_host=50) as upstream:
            self._router = Router(
                self.store.fresh, upstream, self.endpoints, self.ledger, self._tracer
            )
            try:
                yield self
            finally:
                self._router = None

    def model(self, alias: str, attribution: Attribution) -> Model:
        """A pydantic-ai model whose every request goes through the router for `alias`, charged
        to `attribution` (see `agents.models.pydantic_model`)."""
        return routed_model(self.router, alias, attribution=attribution)

    def team_for(self, username: str, teams: list[str], requested: str | None) -> str:
        """The team a user's model calls are charged to, among their `teams`: `requested` if
        they belong to it, else their one team besides the default team, else the default team."""
        if requested is not None:
            if requested not in teams:
                raise ForbiddenTeamError(
                    f"{username} is not a member of team `{requested}`; their teams: "
                    f"{', '.join(sorted(teams)) or 'none'}"
                )
            return requested
        return charged_team(teams, self.services.settings.default_team)


def charged_team(teams: Collection[str], default: str) -> str:
    """The team a user's model calls are charged to when no team is asked for, from `/v1` and
    agent runs alike: their one team besides the default team, else the default team."""
    own = [team for team in teams if team != default]
    return own[0] if len(own) == 1 else default
