"""Finding servers and versions by the names people type: `slug`, `name`, `name@version`."""

from __future__ import annotations

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import NotFoundError
from registry.models import ReviewStatus, Server, ServerVersion, Tool
from registry.tooldefs import Tool as McpTool
from registry.tooldefs import ToolDefinition


async def get_server(session: AsyncSession, ref: str) -> Server:
    server = (
        await session.exec(select(Server).where(or_(Server.slug == ref, Server.name == ref)))
    ).first()
    if server is None:
        raise NotFoundError(
            f"no server named {ref!r}; `switchboard server list` shows the catalogue"
        )
    return server


async def get_version(
    session: AsyncSession,
    ref: str,
    *,
    prefer: tuple[ReviewStatus, ...] = (),
) -> tuple[Server, ServerVersion]:
    """Resolve `SERVER[@VERSION]`; without a version, the newest in `prefer` states, else newest."""
    name, _, version = ref.partition("@")
    server = await get_server(session, name)
    query = select(ServerVersion).where(ServerVersion.server_id == server.id)
    if version:
        row = (await session.exec(query.where(ServerVersion.version == version))).first()
        if row is None:
            raise NotFoundError(f"{server.name} has no version {version!r}")
        return server, row
    newest = query.order_by(col(ServerVersion.id).desc())
    if prefer:
        row = (await session.exec(newest.where(col(ServerVersion.status).in_(prefer)))).first()
        if row is not None:
            return server, row
        states = " or ".join(prefer)
        raise NotFoundError(f"{server.name} has no {states} version; name one as `SERVER@VERSION`")
    row = (await session.exec(newest)).first()
    if row is None:
        raise NotFoundError(f"{server.name} has no versions")
    return server, row


async def load_tools(session: AsyncSession, version_id: int) -> list[ToolDefinition]:
    rows = await session.exec(
        select(Tool).where(Tool.version_id == version_id).order_by(col(Tool.name))
    )
    return [to_definition(row) for row in rows]


def to_definition(row: Tool) -> ToolDefinition:
    return ToolDefinition(
        tool=McpTool.model_validate(row.definition), scopes=row.scopes, binding=row.binding
    )
