"""Quarantine: a running server no longer matches what its reviewer approved.

The version leaves the callers' catalogue at once, goes back to the review queue, and keeps the
difference between what was approved and what the server now reports, for the reviewer.
"""

from __future__ import annotations

import json

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.diff import VersionDiff, diff_versions
from registry.lookup import load_tools
from registry.models import ReviewStatus, ServerVersion, User, pk
from registry.tooldefs import ToolDefinition
from registry.transitions import move


def summary(diff: VersionDiff) -> str:
    parts = []
    if diff.added:
        parts.append("added " + ", ".join(diff.added))
    if diff.removed:
        parts.append("removed " + ", ".join(diff.removed))
    if diff.changed:
        parts.append(
            "changed "
            + ", ".join(f"{c.name} ({', '.join(sorted(c.fields))})" for c in diff.changed)
        )
    return "; ".join(parts) or "the definitions differ"


async def quarantine(
    session: AsyncSession, version: ServerVersion, observed: list[ToolDefinition], *, actor: User
) -> VersionDiff | None:
    """Quarantine `version` unless another replica already did; returns the diff it recorded."""
    await session.refresh(version)
    if version.status != ReviewStatus.approved:
        return None
    approved = await load_tools(session, pk(version))
    diff = diff_versions(approved, observed)
    reason = f"tools/list at sandbox start differs from the approved definitions: {summary(diff)}"
    await move(session, version, ReviewStatus.quarantined, actor, reason[:2000])
    version.build_log = "tools/list reported at start, compared with the approved definitions:\n"
    version.build_log += json.dumps(diff.model_dump(mode="json"), indent=2, sort_keys=True)
    session.add(version)
    await revision.bump(session)
    await session.flush()
    return diff
