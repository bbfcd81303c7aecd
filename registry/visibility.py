"""Which tools one caller may see, computed per request from an in-memory catalogue index.

The index holds every live, approved tool once, already in its wire form; it is rebuilt only
when the shared catalogue revision moves. A caller's grants are read on every request, so a
revoked grant takes effect at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import revision
from registry.grants import ALL_TOOLS
from registry.models import (
    CatalogRevision,
    Grant,
    Membership,
    ReviewStatus,
    Server,
    ServerVersion,
    Team,
    Tool,
    User,
)
from registry.openapi.names import MAX_LENGTH, NAME_PATTERN

logger = logging.getLogger(__name__)


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
        if not _shown(name):
            continue
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


def _shown(name: str) -> bool:
    """Many clients refuse a whole tool list over one name that is not a valid MCP tool name.
    Discovery refuses such tools, but a version approved before it did, or an OpenAPI tool
    (named within 128 characters before the prefix), can still have one."""
    if NAME_PATTERN.fullmatch(name):
        return True
    logger.warning(
        "tool %r is left out of every tool list: it is not a valid MCP tool name (1 to %d "
        "characters of A-Z, a-z, 0-9, `_`, `.` and `-`); publish a version that renames it",
        name,
        MAX_LENGTH,
    )
    return False


@dataclass(frozen=True)
class Standing:
    """A user row's state, the catalogue revision and the user's grants, read in one query."""

    user_id: int
    role: str
    disabled: bool
    revision: int
    grants: list[tuple[int, frozenset[str]]]
    teams: frozenset[str] = frozenset()
    """The user's team names, for attributing what they spend."""


def standing_select(*extra: Any) -> sa.Select[Any]:
    """User state, catalogue revision and grants (one row per grant), plus `extra` columns;
    callers add the join and the `where` that picks the user."""
    current = (
        sa.select(col(CatalogRevision.revision))
        .where(col(CatalogRevision.id) == 1)
        .scalar_subquery()
    )
    return (
        sa.select(
            col(User.id),
            col(User.role),
            col(User.disabled),
            current,
            col(Grant.server_id),
            col(Grant.scopes),
            col(Team.name),
            *extra,
        )
        .select_from(User)
        .outerjoin(Membership, col(Membership.user_id) == User.id)
        .outerjoin(Team, col(Team.id) == Membership.team_id)
        .outerjoin(Grant, col(Grant.team_id) == Membership.team_id)
    )


STANDING_COLUMNS = 7
"""Where a caller's `extra` columns start in each row."""


def standing_from_rows(rows: Sequence[Sequence[Any]]) -> Standing | None:
    if not rows:
        return None
    user_id, role, disabled, at = rows[0][:4]
    merged: dict[int, set[str]] = {}
    for row in rows:
        server_id, scopes = row[4], row[5]
        if server_id is not None:
            merged.setdefault(server_id, set()).update(scopes)
    grants = [(server_id, frozenset(scopes)) for server_id, scopes in sorted(merged.items())]
    teams = frozenset(row[6] for row in rows if row[6] is not None)
    return Standing(user_id or 0, str(role), bool(disabled), int(at or 0), grants, teams)


STANDING_BY_NAME = standing_select().where(col(User.username) == sa.bindparam("username"))
"""Built once: composing a statement costs more than SQLite takes to run it."""


async def standing(session: AsyncSession, username: str) -> Standing | None:
    """Everything a request needs to know about its caller, in one round trip (or `None`)."""
    connection = await session.connection()
    rows = (await connection.execute(STANDING_BY_NAME, {"username": username})).all()
    return standing_from_rows(rows)


class CatalogCache:
    """One index per process, reloaded when any replica changes the catalogue."""

    def __init__(self) -> None:
        self._index: CatalogIndex | None = None
        self._lock = anyio.Lock()

    async def index(self, session: AsyncSession, current: int | None = None) -> CatalogIndex:
        """The index at revision `current` (read from the database when not given)."""
        if current is None:
            current = await revision.current(session)
        if self._index is not None and self._index.revision == current:
            return self._index
        async with self._lock:
            if self._index is None or self._index.revision != current:
                self._index = await load_index(session)
            return self._index

    async def at(self, sessions: async_sessionmaker[AsyncSession], current: int) -> CatalogIndex:
        """The index at revision `current`, opening a session only when it must be reloaded."""
        if self._index is not None and self._index.revision == current:
            return self._index
        async with sessions() as session:
            return await self.index(session, current)

    async def visible_tools(self, session: AsyncSession, username: str) -> list[IndexedTool]:
        """Nothing for an unknown user; one query for the grants and the revision otherwise."""
        state = await standing(session, username)
        if state is None:
            return []
        index = await self.index(session, state.revision)
        return index.visible(state.grants)
