"""Whether one caller may launch an agent now, which tools it would get, and if not, why not.

Read from the same catalogue index and grants the MCP endpoint uses (`registry.visibility`), so
an agent offered as launchable gets exactly the tools its run's token will carry: its tools
intersected with the caller's grants. Each reason names what to do about it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.spec import AgentDocument
from registry.models import Membership, ReviewStatus, Role, Server, ServerVersion, Team, User
from registry.visibility import CatalogCache, IndexedTool
from switchboard.identity.accounts import at_least_role

DEFAULT_MODELS = frozenset({"default"})
"""Aliases assumed known when no routed model layer is at hand: the embedded local model."""


@dataclass(frozen=True)
class Caller:
    username: str
    role: Role
    teams: frozenset[str]
    granted: dict[str, IndexedTool]
    """Every tool the caller may call, by its `slug.tool` name."""

    def sees(self, document: AgentDocument) -> bool:
        """Developers and above see every agent (with why they cannot launch it); people
        with the `user` role only the agents their teams may launch."""
        return at_least_role(self.role, Role.developer) or self.in_audience(document)

    def in_audience(self, document: AgentDocument) -> bool:
        teams = document.switchboard.visibility
        return not teams or bool(self.teams.intersection(teams))


class AgentTool(BaseModel):
    name: str
    """`<server-slug>.<tool>`, as the MCP endpoint names it."""
    title: str | None = None
    read_only: bool
    destructive: bool
    needs_approval: bool
    granted: bool
    """Whether this caller may call it; the run gets only granted tools."""


class Availability(BaseModel):
    launchable: bool
    reasons: list[str]
    tools: list[AgentTool]


async def caller(session: AsyncSession, catalog: CatalogCache, username: str) -> Caller:
    """The caller's role, teams and granted tools (nothing for an unknown user)."""
    user = (await session.exec(select(User).where(User.username == username))).first()
    teams = await session.exec(
        select(Team.name)
        .join(Membership, col(Membership.team_id) == Team.id)
        .join(User, col(User.id) == Membership.user_id)
        .where(User.username == username)
    )
    granted = await catalog.visible_tools(session, username)
    return Caller(
        username=username,
        role=Role(user.role) if user else Role.user,
        teams=frozenset(teams.all()),
        granted={tool.name: tool for tool in granted},
    )


async def availability(
    session: AsyncSession,
    catalog: CatalogCache,
    who: Caller,
    document: AgentDocument,
    *,
    models: Collection[str] = DEFAULT_MODELS,
) -> Availability:
    """`models`: the routed model layer's aliases now."""
    block = document.switchboard
    reasons: list[str] = []
    if not who.in_audience(document):
        reasons.append(
            f"not visible to your teams: only {', '.join(block.visibility)} may launch it; "
            "ask an admin to add you to one of them"
        )
    if block.model not in models:
        reasons.append(
            f"no model: the alias `{block.model}` is not configured in the routed model layer; "
            "ask an admin to add it to the model file"
        )
    index = await catalog.index(session)
    refs_by_slug: dict[str, list[str]] = {}
    for ref in block.tools:
        refs_by_slug.setdefault(ref.partition(".")[0], []).append(ref)
    query = select(Server).where(col(Server.slug).in_(refs_by_slug))
    servers = {server.slug: server for server in await session.exec(query)}
    tools: dict[str, AgentTool] = {}
    for slug, refs in refs_by_slug.items():
        server = servers.get(slug)
        needed = f"needed for {', '.join(f'`{ref}`' for ref in refs)}"
        if server is None:
            reasons.append(
                f"no server `{slug}` in the catalogue ({needed}); publish it "
                "(`switchboard publish`) or fix the agent's `switchboard.tools`"
            )
            continue
        offered = index.by_server.get(server.id or 0, ())
        if not offered:
            reasons.append(f"{await _why_unavailable(session, server)} ({needed})")
            continue
        ungranted: list[IndexedTool] = []
        for ref in refs:
            wanted = [t for t in offered if t.name == ref or ref == slug]
            if not wanted:
                names = ", ".join(f"`{t.name}`" for t in offered)
                reasons.append(f"no tool `{ref}` in the catalogue; server `{slug}` offers {names}")
                continue
            for tool in wanted:
                tools[tool.name] = _describe(tool, document, granted=tool.name in who.granted)
            if not any(t.name in who.granted for t in wanted):
                ungranted.extend(wanted)
        if ungranted:
            names = ", ".join(f"`{t.name}`" for t in ungranted)
            scopes = sorted(set().union(*(t.scopes for t in ungranted)))
            needs = f" (scopes: {', '.join(scopes)})" if scopes else ""
            reasons.append(
                f"missing tool grant: you may not call {names}{needs}; ask a security reviewer "
                f"to grant your team access to server `{slug}`"
            )
    return Availability(launchable=not reasons, reasons=reasons, tools=list(tools.values()))


async def _why_unavailable(session: AsyncSession, server: Server) -> str:
    """Why a server offers no tools: quarantined, or no version approved yet."""
    live = await session.get(ServerVersion, server.live_version_id or 0)
    if live is not None and live.status == ReviewStatus.quarantined:
        return (
            f"server `{server.slug}` is quarantined: its tools changed since they were "
            "reviewed; a security reviewer must review it again"
        )
    newest = (
        await session.exec(
            select(ServerVersion.status)
            .where(ServerVersion.server_id == server.id)
            .order_by(col(ServerVersion.id).desc())
        )
    ).first()
    state = f"its newest version is {newest}" if newest else "it has no versions"
    return f"server `{server.slug}` is not approved ({state}); a security reviewer must approve it"


def _describe(tool: IndexedTool, document: AgentDocument, *, granted: bool) -> AgentTool:
    hints = tool.wire.get("annotations") or {}
    read_only = bool(hints.get("readOnlyHint", False))
    destructive = not read_only and bool(hints.get("destructiveHint", True))
    return AgentTool(
        name=tool.name,
        title=tool.wire.get("title") or hints.get("title"),
        read_only=read_only,
        destructive=destructive,
        needs_approval=document.switchboard.approval.needs_approval(
            tool.name, read_only=read_only, destructive=destructive
        ),
        granted=granted,
    )
