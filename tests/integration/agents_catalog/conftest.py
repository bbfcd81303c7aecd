"""A catalogue holding the bundled examples in known review states, and agents published on it."""

from __future__ import annotations

from typing import Any

import yaml

from agents.catalog import load_catalog
from agents.publishing import publish_agent
from agents.spec import AgentDocument, agent_from_dict
from registry import grants, publishing, review
from registry.lookup import get_server, get_version
from registry.quarantine import quarantine
from registry.teams import ensure_user, get_team
from switchboard.services import Services
from tests.example_servers import MCP_SERVERS, TASKS_OPENAPI, TASKS_SLUG, manifest, mcp_tools

PUBLISHER = "publisher"


async def publish_examples(services: Services) -> None:
    """Every example published with its real tools; none approved yet."""
    async with services.transaction() as session:
        team = await get_team(session, services.settings.default_team)
        actor = await ensure_user(session, PUBLISHER)
        for folder in MCP_SERVERS:
            parsed = manifest(folder)
            version = await publishing.publish_manifest(session, parsed, team=team, actor=actor)
            publishing.store_tools(
                session, version, await mcp_tools(folder), parsed.policy.tool_scopes
            )
        await publishing.import_openapi(
            session,
            TASKS_OPENAPI.read_bytes(),
            source=str(TASKS_OPENAPI),
            name=TASKS_SLUG,
            team=team,
            actor=actor,
            base_url="https://tasks.example.com",
        )


async def approve(services: Services, slug: str, *, grant_to: str | None = None) -> None:
    async with services.transaction() as session:
        actor = await ensure_user(session, PUBLISHER)
        await review.approve(session, slug, actor=actor, reason="tests")
        if grant_to is not None:
            team = await get_team(session, grant_to)
            await grants.grant(session, team, await get_server(session, slug), ["*"], actor=actor)


async def quarantine_live(services: Services, slug: str) -> None:
    async with services.transaction() as session:
        _, version = await get_version(session, slug)
        await quarantine(session, version, [], actor=await ensure_user(session, PUBLISHER))


async def example_world(services: Services) -> None:
    """clock approved and granted to the default team; calculator approved, not granted;
    pypi-info granted but quarantined; tasks pending review. The catalogue agents published."""
    await publish_examples(services)
    default = services.settings.default_team
    await approve(services, "clock", grant_to=default)
    await approve(services, "calculator")
    await approve(services, "pypi-info", grant_to=default)
    await quarantine_live(services, "pypi-info")
    await publish_documents(services, load_catalog())


async def publish_documents(services: Services, documents: list[AgentDocument]) -> None:
    async with services.transaction() as session:
        team = await get_team(session, services.settings.default_team)
        actor = await ensure_user(session, PUBLISHER)
        for document in documents:
            await publish_agent(session, document, team=team, actor=actor)


def agent_data(name: str = "greeter", **switchboard: Any) -> dict[str, Any]:
    block = {
        "title": name.title(),
        "summary": "Says hello.",
        "version": "1.0.0",
        "prompt": "Greet {who}.",
        "questions": [{"key": "who", "label": "Who", "help": "A name."}],
        **switchboard,
    }
    return {"name": name, "instructions": "Be brief.", "switchboard": block}


def agent(name: str = "greeter", **switchboard: Any) -> AgentDocument:
    return agent_from_dict(agent_data(name, **switchboard))


def agent_yaml(name: str = "greeter", **switchboard: Any) -> str:
    return yaml.safe_dump(agent_data(name, **switchboard), sort_keys=False)
