from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select

from registry import publishing
from registry.manifest import ParsedManifest, read_manifest
from registry.models import Team, User
from registry.policy import Policy
from registry.teams import ensure_team, ensure_user
from registry.tooldefs import Tool, ToolAnnotations, ToolDefinition
from switchboard.services import Services

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture
def time_manifest() -> ParsedManifest:
    return read_manifest(FIXTURES / "manifests" / "time.json")


@pytest.fixture
async def people(services: Services) -> tuple[Team, User]:
    async with services.transaction() as session:
        return await ensure_team(session, "platform"), await ensure_user(session, "alice")


async def count_rows(services: Services) -> dict[str, int]:
    """Row counts of every table: a failed operation must leave all of them unchanged."""
    counts = {}
    async with services.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = (await session.exec(select(func.count()).select_from(table))).one()
    return counts


def make_tool(name: str, description: str = "does a thing", *scopes: str) -> ToolDefinition:
    return ToolDefinition(
        tool=Tool(
            name=name,
            description=description,
            input_schema={"type": "object", "properties": {}},
            annotations=ToolAnnotations(read_only_hint=True),
        ),
        scopes=list(scopes),
    )


async def publish_tools(
    services: Services,
    team: Team,
    actor: User,
    tools: list[ToolDefinition],
    *,
    name: str = "com.example/api",
    version: str = "1.0.0",
    egress: tuple[str, ...] = ("api.example.com",),
) -> None:
    async with services.transaction() as session:
        await publishing.publish_openapi(
            session,
            name=name,
            version=version,
            description="An example API",
            document={"openapi": "3.1.0"},
            policy=Policy(egress=list(egress)),
            tools=tools,
            team=team,
            actor=actor,
        )
