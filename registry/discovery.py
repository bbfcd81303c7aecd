"""Recording what a sandbox found when it first started a version: its tools, or its failure."""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import InvalidStateError
from registry.models import ReviewStatus, ServerVersion, User
from registry.openapi.names import MAX_LENGTH, NAME_PATTERN
from registry.publishing import store_tools
from registry.tooldefs import Tool, ToolDefinition
from registry.transitions import move

MAX_LOG = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


async def record_discovery(
    session: AsyncSession, version: ServerVersion, tools: list[Tool], *, slug: str, actor: User
) -> list[str]:
    """Store the tools and digest and put the version in the review queue.

    Returns problems that make the version unfit for review (then it is `failed` instead):
    tools whose names, prefixed with the server's `slug`, are not valid MCP tool names, and
    policy scopes for tools the server does not have.
    """
    _require(version, ReviewStatus.building, ReviewStatus.failed)
    problems = [
        problem
        for problem in (_misnamed(slug, tools), _unknown_scopes(version, tools))
        if problem is not None
    ]
    if problems:
        await record_failure(session, version, "\n".join(problems), actor=actor)
        return problems
    store_tools(
        session,
        version,
        [ToolDefinition(tool=tool) for tool in tools],
        version.policy.get("toolScopes", {}),
    )
    await move(session, version, ReviewStatus.pending, actor, f"discovered {len(tools)} tools")
    version.build_log = None
    return []


def _misnamed(slug: str, tools: list[Tool]) -> str | None:
    """Callers see `<slug>.<tool>`, and many clients refuse a whole tool list over one name
    that is not a valid MCP tool name. The version fails rather than renaming such tools:
    calls reach a server under the `<tool>` part as it is."""
    reasons = [
        f"  {tool.name!r}: {reason}"
        for tool in tools
        if (reason := _name_problem(slug, tool.name)) is not None
    ]
    if not reasons:
        return None
    return (
        f"tools must have names that are valid MCP tool names as `{slug}.<tool>`: 1 to "
        f"{MAX_LENGTH} characters of A-Z, a-z, 0-9, `_`, `.` and `-`, the prefix included; "
        "rename these in the server, then run `switchboard discover`:\n" + "\n".join(reasons)
    )


def _name_problem(slug: str, name: str) -> str | None:
    exposed = f"{slug}.{name}"
    if name and NAME_PATTERN.fullmatch(exposed):
        return None
    if not name:
        return "the name is empty"
    reasons = []
    bad = sorted({char for char in name if not NAME_PATTERN.fullmatch(char)})
    if bad:
        reasons.append(f"contains {', '.join(repr(char) for char in bad)}")
    if len(exposed) > MAX_LENGTH:
        reasons.append(
            f"{len(exposed)} characters with the `{slug}.` prefix, "
            f"{len(exposed) - MAX_LENGTH} too many"
        )
    return "; ".join(reasons)


def _unknown_scopes(version: ServerVersion, tools: list[Tool]) -> str | None:
    names = {tool.name for tool in tools}
    unknown = sorted(set(version.policy.get("toolScopes", {})) - names)
    if not unknown:
        return None
    return (
        f"`toolScopes` names tools the server does not have: {', '.join(unknown)}; "
        f"its tools are: {', '.join(sorted(names)) or 'none'}"
    )


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
