"""The catalogue at a glance: every server with its versions, their state and which is live."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import ReviewStatus, Server, ServerVersion, Team


class VersionSummary(BaseModel):
    version: str
    status: ReviewStatus
    live: bool


class ServerSummary(BaseModel):
    name: str
    slug: str
    kind: str
    owner: str
    versions: list[VersionSummary]


async def server_summaries(
    session: AsyncSession, server_id: int | None = None
) -> list[ServerSummary]:
    query = (
        select(Server, ServerVersion, Team)
        .join(ServerVersion, col(ServerVersion.server_id) == Server.id)
        .join(Team, col(Team.id) == Server.owner_team_id)
        .order_by(col(Server.name), col(ServerVersion.id))
    )
    if server_id is not None:
        query = query.where(Server.id == server_id)
    summaries: dict[int | None, ServerSummary] = {}
    for server, version, team in await session.exec(query):
        entry = summaries.setdefault(
            server.id,
            ServerSummary(
                name=server.name, slug=server.slug, kind=server.kind, owner=team.name, versions=[]
            ),
        )
        entry.versions.append(
            VersionSummary(
                version=version.version,
                status=version.status,
                live=server.live_version_id == version.id,
            )
        )
    return list(summaries.values())
