"""Quarantine: a running server no longer matches what its reviewer approved.

The version leaves the callers' catalogue at once, goes back to the review queue, and keeps the
difference between what was approved and what the server now reports, for the reviewer. The
definitions on record become the ones the server reports (keeping each tool's scopes and call
binding by name), so approving the version again approves what it actually runs, and its next
sandbox matches.
"""

from __future__ import annotations

import json

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.diff import VersionDiff, diff_versions
from registry.lookup import load_tools
from registry.models import ReviewStatus, ServerVersion, Tool, User, pk
from registry.publishing import store_tools
from registry.tooldefs import ToolDefinition, definitions_digest
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
    await _record_observed(session, version, approved, observed)
    await revision.bump(session)
    await session.flush()
    return diff


async def _record_observed(
    session: AsyncSession,
    version: ServerVersion,
    approved: list[ToolDefinition],
    observed: list[ToolDefinition],
) -> None:
    before = {tool.name: tool for tool in approved}
    await session.exec(delete(Tool).where(col(Tool.version_id) == pk(version)))
    await session.flush()
    kept = [
        tool.model_copy(
            update={
                "scopes": before[tool.name].scopes if tool.name in before else tool.scopes,
                "binding": before[tool.name].binding if tool.name in before else tool.binding,
            }
        )
        for tool in observed
    ]
    store_tools(session, version, kept, version.policy.get("toolScopes", {}))
    version.tools_digest = definitions_digest(kept)
