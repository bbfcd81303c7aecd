"""Publishing and browsing: `/servers`, `/openapi-imports`, `/reviews`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request

from registry import publishing, review
from registry.listing import ServerSummary, server_summaries
from registry.lookup import get_server
from registry.manifest import parse_manifest
from registry.models import ReviewStatus, Role, Server, pk
from registry.review import QueueEntry, VersionReview
from registry.teams import ensure_user
from web.api.deps import actor_name, publishing_team, services
from web.api.endpoints import Endpoint, flag


class ManifestBody(BaseModel):
    """A `server.json` document, validated by the registry (so errors carry JSON pointers)."""

    model_config = {"extra": "allow"}


class OpenAPIImportBody(BaseModel):
    name: str = Field(description="server name, e.g. `com.example/tasks` or `tasks`")
    document: dict[str, Any] | str = Field(description="the OpenAPI document, as JSON or text")
    version: str | None = None
    team: str | None = None
    slug: str | None = None
    base_url: str | None = Field(
        default=None, description="URL the API is reached at (default: its first server)"
    )


class Decision(BaseModel):
    reason: str | None = None


async def list_servers(request: Request) -> list[ServerSummary]:
    async with services(request).sessions() as session:
        return await server_summaries(session)


async def publish_server(
    request: Request, body: ManifestBody, team: str | None, slug: str | None, discover: str | None
) -> VersionReview:
    """Record the version; its sandbox is built and its tools listed in the background."""
    svc = services(request)
    discovering = flag("discover", discover, default=True)
    parsed = parse_manifest(body.model_dump(by_alias=True), "request body")
    async with svc.transaction() as session:
        owner, actor = await publishing_team(request, session, team)
        version = await publishing.publish_manifest(
            session,
            parsed,
            team=owner,
            actor=actor,
            slug=slug,
            discover=discovering,
        )
    if version.status == ReviewStatus.building:
        request.app.state.jobs.start_soon(
            request.app.state.discover, svc, pk(version), actor.username
        )
    async with svc.sessions() as session:
        return await review.describe(session, f"{parsed.manifest.name}@{version.version}")


async def import_openapi(request: Request, body: OpenAPIImportBody) -> VersionReview:
    svc = services(request)
    data = (
        body.document.encode()
        if isinstance(body.document, str)
        else json.dumps(body.document).encode()
    )
    async with svc.transaction() as session:
        owner, actor = await publishing_team(request, session, body.team)
        version = await publishing.import_openapi(
            session,
            data,
            source="request body",
            name=body.name,
            team=owner,
            actor=actor,
            version=body.version,
            slug=body.slug,
            base_url=body.base_url,
        )
        server = await session.get(Server, version.server_id)
        assert server is not None
        return await review.describe(session, f"{server.slug}@{version.version}")


async def show_server(request: Request, server: str) -> ServerSummary:
    async with services(request).sessions() as session:
        row = await get_server(session, server)
        (summary,) = await server_summaries(session, row.id)
    return summary


async def show_version(request: Request, server: str, version: str) -> VersionReview:
    async with services(request).sessions() as session:
        return await review.describe(session, f"{server}@{version}")


async def review_queue(request: Request) -> list[QueueEntry]:
    async with services(request).sessions() as session:
        return await review.review_queue(session)


async def approve_version(
    request: Request, server: str, version: str, body: Decision
) -> VersionReview:
    async with services(request).transaction() as session:
        actor = await ensure_user(session, actor_name(request))
        return await review.approve(session, f"{server}@{version}", actor=actor, reason=body.reason)


async def reject_version(
    request: Request, server: str, version: str, body: Decision
) -> VersionReview:
    async with services(request).transaction() as session:
        actor = await ensure_user(session, actor_name(request))
        return await review.reject(
            session, f"{server}@{version}", actor=actor, reason=body.reason or ""
        )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/servers",
        list_servers,
        "List servers and their versions",
        response=list[ServerSummary],
        tags=("catalogue",),
    ),
    Endpoint(
        "POST",
        "/servers",
        publish_server,
        "Publish a server.json; its sandbox is built and tools discovered in the background "
        "(`building`, then `pending` or `failed`); `discover=false` records the manifest only",
        body=ManifestBody,
        response=VersionReview,
        status=201,
        query=("team", "slug", "discover"),
        tags=("catalogue",),
        role=Role.developer,
    ),
    Endpoint(
        "POST",
        "/openapi-imports",
        import_openapi,
        "Turn an OpenAPI document into a pending server of tools",
        body=OpenAPIImportBody,
        response=VersionReview,
        status=201,
        tags=("catalogue",),
        role=Role.developer,
    ),
    Endpoint(
        "GET",
        "/servers/{server}",
        show_server,
        "One server and its versions",
        response=ServerSummary,
        tags=("catalogue",),
    ),
    Endpoint(
        "GET",
        "/servers/{server}/versions/{version}",
        show_version,
        "One version: policy, tools, diff against the live version, history",
        response=VersionReview,
        tags=("review",),
    ),
    Endpoint(
        "GET",
        "/reviews",
        review_queue,
        "Versions awaiting review",
        response=list[QueueEntry],
        tags=("review",),
        role=Role.security,
    ),
    Endpoint(
        "POST",
        "/servers/{server}/versions/{version}/approve",
        approve_version,
        "Approve a version; it becomes live",
        body=Decision,
        response=VersionReview,
        tags=("review",),
        role=Role.security,
    ),
    Endpoint(
        "POST",
        "/servers/{server}/versions/{version}/reject",
        reject_version,
        "Reject a version with a reason",
        body=Decision,
        response=VersionReview,
        tags=("review",),
        role=Role.security,
    ),
]
