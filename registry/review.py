"""The security review: what a version asks for, what changed, and the decision on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.diff import VersionDiff, diff_versions
from registry.errors import InvalidStateError, RegistryError
from registry.journal import note
from registry.lookup import get_version, load_tools
from registry.models import (
    ReviewEvent,
    ReviewStatus,
    Server,
    ServerVersion,
    Team,
    Tool,
    User,
    pk,
    utcnow,
)
from registry.tooldefs import ToolDefinition
from registry.transitions import move

AWAITING = (ReviewStatus.pending, ReviewStatus.quarantined)


class QueueEntry(BaseModel):
    server: str
    slug: str
    kind: str
    version: str
    status: ReviewStatus
    owner: str
    published_at: datetime
    tools: int


class ReviewEventView(BaseModel):
    to_status: ReviewStatus
    actor: str
    reason: str | None
    at: datetime


class VersionReview(BaseModel):
    """Everything a reviewer needs to decide on one version."""

    server: str
    slug: str
    kind: str
    owner: str
    version: str
    description: str
    status: ReviewStatus
    live: bool
    published_by: str
    published_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    policy: dict[str, Any]
    secrets: list[str]
    tools_digest: str | None
    build_log: str | None
    tools: list[dict[str, Any]]
    diff: VersionDiff
    history: list[ReviewEventView]


async def review_queue(session: AsyncSession) -> list[QueueEntry]:
    tool_count = select(func.count()).where(Tool.version_id == ServerVersion.id).scalar_subquery()
    rows = await session.exec(
        select(ServerVersion, Server, Team, tool_count)
        .join(Server, col(Server.id) == ServerVersion.server_id)
        .join(Team, col(Team.id) == Server.owner_team_id)
        .where(col(ServerVersion.status).in_(AWAITING))
        .order_by(col(ServerVersion.published_at), col(ServerVersion.id))
    )
    return [
        QueueEntry(
            server=server.name,
            slug=server.slug,
            kind=server.kind,
            version=version.version,
            status=version.status,
            owner=team.name,
            published_at=version.published_at,
            tools=tools,
        )
        for version, server, team, tools in rows
    ]


async def describe(session: AsyncSession, ref: str) -> VersionReview:
    server, version = await get_version(session, ref)
    return await _describe(session, server, version)


async def approve(
    session: AsyncSession, ref: str, *, actor: User, reason: str | None = None
) -> VersionReview:
    """Approve and make this the version callers get; the review shows the diff approved."""
    server, version = await get_version(session, ref, prefer=AWAITING)
    _require_awaiting(server, version, "approve")
    review = await _describe(session, server, version)
    await _decide(session, server, version, ReviewStatus.approved, actor, reason)
    note(session, actor.username, "version.approve", f"{server.name}@{version.version}")
    server.live_version_id = pk(version)
    session.add(server)
    await revision.bump(session)
    await session.flush()
    return review.model_copy(
        update={
            "status": ReviewStatus.approved,
            "live": True,
            "reviewed_by": actor.username,
            "reviewed_at": version.reviewed_at,
            "review_reason": reason,
        }
    )


async def reject(session: AsyncSession, ref: str, *, actor: User, reason: str) -> VersionReview:
    if not reason.strip():
        raise RegistryError("a rejection needs a reason the publisher can act on (`--reason`)")
    server, version = await get_version(session, ref, prefer=AWAITING)
    _require_awaiting(server, version, "reject")
    await _decide(session, server, version, ReviewStatus.rejected, actor, reason)
    note(session, actor.username, "version.reject", f"{server.name}@{version.version}")
    if server.live_version_id == version.id:
        server.live_version_id = None
        session.add(server)
        await revision.bump(session)
    await session.flush()
    return await _describe(session, server, version)


def _require_awaiting(server: Server, version: ServerVersion, verb: str) -> None:
    if version.status not in AWAITING:
        raise InvalidStateError(
            f"cannot {verb} {server.name}@{version.version}: it is {version.status}; "
            "only pending or quarantined versions await review"
        )


async def _decide(
    session: AsyncSession,
    server: Server,
    version: ServerVersion,
    status: ReviewStatus,
    actor: User,
    reason: str | None,
) -> None:
    """Decide only if the version is still in the state this review read: two reviewers (or
    an approve and a reject) at once both saw it pending, and without this the later write won
    while both were told they had decided it."""
    claimed = await session.exec(
        update(ServerVersion)
        .where(col(ServerVersion.id) == pk(version), col(ServerVersion.status) == version.status)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise InvalidStateError(
            f"{server.name}@{version.version} was decided by someone else a moment ago; "
            f"`switchboard review show {server.slug}@{version.version}` shows the decision"
        )
    version.reviewed_by_id = pk(actor)
    version.reviewed_at = utcnow()
    version.review_reason = reason
    await move(session, version, status, actor, reason)


async def _describe(session: AsyncSession, server: Server, version: ServerVersion) -> VersionReview:
    tools = await load_tools(session, pk(version))
    diff = await _diff_against_live(session, server, version, tools)
    owner = await session.get(Team, server.owner_team_id)
    publisher = await session.get(User, version.published_by_id)
    reviewer = await session.get(User, version.reviewed_by_id) if version.reviewed_by_id else None
    events = await session.exec(
        select(ReviewEvent, User)
        .join(User, col(User.id) == ReviewEvent.actor_id)
        .where(ReviewEvent.version_id == pk(version))
        .order_by(col(ReviewEvent.id))
    )
    return VersionReview(
        server=server.name,
        slug=server.slug,
        kind=server.kind,
        owner=owner.name if owner else "?",
        version=version.version,
        description=version.description,
        status=version.status,
        live=server.live_version_id == pk(version),
        published_by=publisher.username if publisher else "?",
        published_at=version.published_at,
        reviewed_by=reviewer.username if reviewer else None,
        reviewed_at=version.reviewed_at,
        review_reason=version.review_reason,
        policy=version.policy,
        secrets=list(version.policy.get("secrets", [])),
        tools_digest=version.tools_digest,
        build_log=version.build_log,
        tools=[{**t.wire(), "scopes": t.scopes} for t in tools],
        diff=diff,
        history=[
            ReviewEventView(to_status=e.to_status, actor=u.username, reason=e.reason, at=e.at)
            for e, u in events
        ],
    )


async def _diff_against_live(
    session: AsyncSession, server: Server, version: ServerVersion, tools: list[ToolDefinition]
) -> VersionDiff:
    """Compare with the version callers get now (or the last approved one before it)."""
    baseline = None
    if server.live_version_id not in (None, pk(version)):
        baseline = await session.get(ServerVersion, server.live_version_id)
    if baseline is None:
        baseline = (
            await session.exec(
                select(ServerVersion)
                .where(
                    ServerVersion.server_id == pk(server),
                    ServerVersion.status == ReviewStatus.approved,
                    ServerVersion.id != pk(version),
                )
                .order_by(col(ServerVersion.reviewed_at).desc(), col(ServerVersion.id).desc())
            )
        ).first()
    if baseline is None or baseline.id is None:
        return diff_versions([], tools)
    return diff_versions(
        await load_tools(session, baseline.id),
        tools,
        before_policy=baseline.policy,
        after_policy=version.policy,
        against=baseline.version,
    )
