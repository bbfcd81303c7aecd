"""Recording what a sandbox found when it first started a version: its tools, or its failure."""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import InvalidStateError
from registry.models import ReviewStatus, ServerVersion, User
from registry.publishing import store_tools
from registry.tooldefs import Tool, ToolDefinition
from registry.transitions import move

MAX_LOG = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


async def record_discovery(
    session: AsyncSession, version: ServerVersion, tools: list[Tool], *, actor: User
) -> list[str]:
    """Store the tools and digest and put the version in the review queue.

    Returns problems that make the version unfit for review (then it is `failed` instead):
    policy scopes for tools the server does not have.
    """
    _require(version, ReviewStatus.building, ReviewStatus.failed)
    names = {tool.name for tool in tools}
    unknown = sorted(set(version.policy.get("toolScopes", {})) - names)
    if unknown:
        problem = (
            f"`toolScopes` names tools the server does not have: {', '.join(unknown)}; "
            f"its tools are: {', '.join(sorted(names)) or 'none'}"
        )
        await record_failure(session, version, problem, actor=actor)
        return [problem]
    store_tools(
        session,
        version,
        [ToolDefinition(tool=tool) for tool in tools],
        version.policy.get("toolScopes", {}),
    )
    await move(session, version, ReviewStatus.pending, actor, f"discovered {len(tools)} tools")
    version.build_log = None
    return []


async def record_failure(
    session: AsyncSession, version: ServerVersion, log: str, *, actor: User
) -> None:
    version.build_log = _ANSI.sub("", log)[-MAX_LOG:]
    await move(session, version, ReviewStatus.failed, actor, log.strip().splitlines()[0][:500])


def _require(version: ServerVersion, *states: ReviewStatus) -> None:
    if version.status not in states:
        raise InvalidStateError(
            f"version {version.version} is {version.status}; tools are discovered only for "
            "versions being built or whose build failed"
        )
