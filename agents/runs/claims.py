"""Claiming a queued run for one process, within the per-person limit across every replica.

The limit is checked by the claiming UPDATE itself, not by a count read beforehand: two
replicas that each counted one running run for a person would otherwise both start another.
On SQLite the statement runs under the database's one write lock. On PostgreSQL, read
committed lets two claims each miss the other's uncommitted run, so claims queue on one
advisory lock, held until the claim commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, text, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.tables import AgentRun, RunStatus

CLAIM_LOCK = 0x5B_0002
"""Any constant unlike `switchboard.migrate.BOOTSTRAP_LOCK`: names the claims' advisory lock."""


async def claim(
    session: AsyncSession, run_id: str, *, runner: str, max_per_user: int, now: datetime
) -> bool:
    """Mark the queued run `running` for `runner`, unless its person already has
    `max_per_user` runs running; whether it was claimed. Commit soon: the lock is held till then."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
    other = aliased(AgentRun)
    running = (
        select(func.count())
        .select_from(other)
        .where(col(other.username) == AgentRun.username, col(other.status) == RunStatus.running)
        .correlate(AgentRun)
        .scalar_subquery()
    )
    claimed = await session.exec(
        update(AgentRun)
        .where(
            col(AgentRun.id) == run_id,
            col(AgentRun.status) == RunStatus.queued,
            running < max_per_user,
        )
        .values(
            status=RunStatus.running,
            runner=runner,
            heartbeat_at=now,
            started_at=func.coalesce(AgentRun.started_at, now),
        )
    )
    return claimed.rowcount == 1
