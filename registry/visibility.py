"""Which tools one caller may see, computed per request from an in-memory catalogue index.

The index holds every live, approved tool once, already in its wire form; it is rebuilt only
when the shared catalogue revision moves. A caller's grants are read on every request, so a
revoked grant takes effect at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.grants import ALL_TOOLS
from registry.models import Grant, Membership, ReviewStatus, Server, ServerVersion, Tool, User


@dataclass(frozen=True, slots=True)
class IndexedTool:
    server_id: int
    version_id: int
    name: str
    """`<server-slug>.<tool>`: the name callers see."""
    scopes: frozenset[str]
    wire: dict[str, Any]


@dataclass(frozen=True)
class CatalogIndex:
    revision: int
    by_server: dict[int, tuple[IndexedTool, ...]] = field(default_factory=dict)

    def visible(self, grants: Iterable[tuple[int, frozenset[str]]]) -> list[IndexedTool]:
        tools: list[IndexedTool] = []
        for server_id, scopes in grants:
            server_tools = self.by_server.get(server_id, ())
            if ALL_TOOLS in scopes:
                tools.extend(server_tools)
            else:
                tools.extend(t for t in server_tools if t.scopes <= scopes)
        return tools


async def load_index(session: AsyncSession) -> CatalogIndex:
    current = await revision.current(session)
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            col(Server.id),
            col(Server.slug),
            col(Tool.version_id),
            col(Tool.name),
            col(Tool.definition),
            col(Tool.scopes),
        )
        .join(ServerVersion, col(ServerVersion.id) == Server.live_version_id)
        .join(Tool, col(Tool.version_id) == ServerVersion.id)
        .where(col(ServerVersion.status) == ReviewStatus.approved)
        .order_by(col(Server.slug), col(Tool.name))
    )
    by_server: dict[int, list[IndexedTool]] = {}
    for server_id, slug, version_id, tool_name, definition, scopes in rows:
        if server_id is None:
            continue
        name = f"{slug}.{tool_name}"
        by_server.setdefault(server_id, []).append(
            IndexedTool(
                server_id=server_id,
                version_id=version_id,
                name=name,
                scopes=frozenset(scopes),
                wire={**definition, "name": name},
            )
        )
    return CatalogIndex(current, {k: tuple(v) for k, v in by_server.items()})


async def caller_grants(session: AsyncSession, username: str) -> list[tuple[int, frozenset[str]]]:
    """Per server, the union of the scopes granted to every team the user belongs to."""
    rows = await session.exec(
        select(Grant.server_id, Grant.scopes)
        .join(Membership, col(Membership.team_id) == Grant.team_id)
        .join(User, col(User.id) == Membership.user_id)
        .where(User.username == username)
    )
    merged: dict[int, set[str]] = {}
    for server_id, scopes in rows:
        merged.setdefault(server_id, set()).update(scopes)
    return [(server_id, frozenset(scopes)) for server_id, scopes in sorted(merged.items())]


class CatalogCache:
    """One index per process, reloaded when any replica changes the catalogue."""

    def __init__(self) -> None:
        self._index: CatalogIndex | None = None
        self._lock = anyio.Lock()

    async def index(self, session: AsyncSession) -> CatalogIndex:
        current = await revision.current(session)
        if self._index is not None and self._index.revision == current:
            return self._index
        async with self._lock:
            if self._index is None or self._index.revision != current:
                self._index = await load_index(session)
            return self._index

    async def visible_tools(self, session: AsyncSession, username: str) -> list[IndexedTool]:
        index = await self.index(session)
        return index.visible(await caller_grants(session, username))
