"""Every change of a version's state goes through here, so the history misses none."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import ReviewEvent, ReviewStatus, ServerVersion, User, pk


async def move(
    session: AsyncSession,
    version: ServerVersion,
    status: ReviewStatus,
    actor: User,
    reason: str | None,
) -> None:
    session.add(
        ReviewEvent(
            version_id=pk(version),
            from_status=version.status,
            to_status=status,
            actor_id=pk(actor),
            reason=reason,
        )
    )
    version.status = status
    session.add(version)
    await session.flush()
