"""A counter of catalogue changes that affect what callers see, shared by every replica."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import CatalogRevision


async def bump(session: AsyncSession) -> None:
    """Call inside the transaction making the change: readers never see one without the other."""
    await session.exec(
        update(CatalogRevision)
        .where(col(CatalogRevision.id) == 1)
        .values(revision=col(CatalogRevision.revision) + 1)
    )


async def current(session: AsyncSession) -> int:
    return (await session.exec(select(CatalogRevision.revision))).one()
