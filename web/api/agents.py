"""`/agents`: publishing agent documents and the catalogue each caller may launch from."""

from __future__ import annotations

import anyio
from pydantic import BaseModel, Field
from starlette.requests import Request

from agents.availability import caller
from agents.listing import AgentCard, AgentDetail, agent_cards, agent_detail
from agents.models.layer import ModelLayer
from agents.publishing import owner_of, publish_agent, withdraw_agent
from agents.spec import parse_agent
from registry.errors import InvalidDocumentError, Problem
from registry.models import Role
from web.api.deps import acting_for_team, actor_name, publishing_team, services
from web.api.endpoints import NUL_PROBLEM, Endpoint

SOURCE = "request body"


class WithdrawBody(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class WithdrawnAgent(BaseModel):
    name: str
    version: str
    withdrawn: bool


class PublishedAgent(BaseModel):
    name: str
    version: str
    digest: str
    created: bool
    """False when this exact document was already published under this version."""


def _document_text(raw: bytes) -> str:
    """The body as text (YAML or JSON, which YAML reads too)."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InvalidDocumentError(SOURCE, [Problem("", "not UTF-8 text")]) from None
    if "\x00" in text:
        raise InvalidDocumentError(SOURCE, [Problem("", NUL_PROBLEM)])
    return text


async def publish(request: Request, team: str | None, body: bytes) -> PublishedAgent:
    """Publish a version; the same document again is a no-op, a changed one needs a new version."""
    svc = services(request)
    text = _document_text(body)
    document = await anyio.to_thread.run_sync(parse_agent, text, SOURCE)
    async with svc.transaction() as session:
        owner, actor = await publishing_team(request, session, team)
        published = await publish_agent(session, document, team=owner, actor=actor)
    return PublishedAgent(
        name=document.name,
        version=published.version.version,
        digest=published.version.digest,
        created=published.created,
    )


async def withdraw(request: Request, name: str, version: str, body: WithdrawBody) -> WithdrawnAgent:
    svc = services(request)
    async with svc.transaction() as session:
        actor = await acting_for_team(request, session, await owner_of(session, name))
        row = await withdraw_agent(session, name, version, actor=actor, reason=body.reason)
    return WithdrawnAgent(name=name, version=row.version, withdrawn=row.withdrawn)


async def _aliases(request: Request) -> set[str]:
    """The routed model layer's aliases now (the model file can change at run time)."""
    layer: ModelLayer = request.app.state.models
    return set(await layer.router.aliases())


async def list_agents(request: Request) -> list[AgentCard]:
    svc = services(request)
    models = await _aliases(request)
    async with svc.sessions() as session:
        who = await caller(session, svc.catalog, actor_name(request))
        return await agent_cards(session, svc.catalog, who, models=models)


async def show_agent(request: Request, name: str, version: str | None) -> AgentDetail:
    svc = services(request)
    models = await _aliases(request)
    async with svc.sessions() as session:
        who = await caller(session, svc.catalog, actor_name(request))
        return await agent_detail(session, svc.catalog, who, name, version, models=models)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/agents",
        publish,
        "Publish an agent document (YAML or JSON body); republishing the same document is a "
        "no-op, a changed one needs a new `switchboard.version`",
        response=PublishedAgent,
        status=201,
        query=("team",),
        tags=("agents",),
        role=Role.developer,
        raw_body=("application/yaml", "application/json"),
    ),
    Endpoint(
        "POST",
        "/agents/{name}/versions/{version}/withdraw",
        withdraw,
        "Withdraw an agent version: it is no longer launched (a launch without a version gets "
        "the newest one not withdrawn); its runs and history stay",
        response=WithdrawnAgent,
        body=WithdrawBody,
        tags=("agents",),
        role=Role.developer,
    ),
    Endpoint(
        "GET",
        "/agents",
        list_agents,
        "The agents you may see, each saying whether you can launch it now and, if not, why",
        response=list[AgentCard],
        tags=("agents",),
    ),
    Endpoint(
        "GET",
        "/agents/{name}",
        show_agent,
        "One agent: its document, versions, launch form, and the tools it will use (and which "
        "need approval)",
        response=AgentDetail,
        query=("version",),
        tags=("agents",),
    ),
]
