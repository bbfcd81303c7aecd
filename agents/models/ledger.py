"""Usage records, and each team's spending in the current budget period.

A record is committed before the call it describes returns, through the audit log's group
commit when the process runs one: in the same transaction as the call's audit record when it
has one, so a request pays one commit (and one worker-thread hop) for both, and concurrent
calls share it.

Spending is read from the usage table at most every `REFRESH_SECONDS` per team and period, and
this process's own records are added as they are written, so a budget check costs no query on
most requests; other replicas' spending shows up within that interval.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Table, func
from sqlmodel import col, select

from agents.models.tables import ModelUsage
from switchboard.audit.log import Event
from switchboard.audit.writer import AuditWriter
from switchboard.db import Sessions, transaction

REFRESH_SECONDS = 10.0
USAGE: Table = ModelUsage.__table__  # type: ignore[attr-defined]
Period = Literal["day", "month"]


def period_start(period: Period, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def next_period(period: Period, now: datetime) -> datetime:
    start = period_start(period, now)
    if period == "day":
        return start.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


class UsageLedger:
    def __init__(self, sessions: Sessions, writer: AuditWriter | None) -> None:
        self._sessions = sessions
        self._writer = writer
        self._spent: dict[tuple[str, datetime], tuple[float, float]] = {}
        """(team, period start) -> (cost spent, when it was read from the database)."""

    async def record(self, usage: Mapping[str, Any], event: Event | None = None) -> None:
        """Commit `usage` (a `ModelUsage` row's values), with `event` (the call's audit record)
        in the same transaction."""
        if self._writer is None:
            async with transaction(self._sessions) as session:
                session.add(ModelUsage(**usage))
        elif event is None:
            await self._writer.insert([(USAGE, usage)])
        else:
            await self._writer.write(event, rows=[(USAGE, usage)])
        for (team, since), (spent, read_at) in list(self._spent.items()):
            if team == usage["team"] and usage["at"] >= since:
                self._spent[team, since] = (spent + usage["cost"], read_at)

    async def spent(self, team: str, since: datetime) -> float:
        key = (team, since)
        cached = self._spent.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[1] < REFRESH_SECONDS:
            return cached[0]
        async with self._sessions() as session:
            total = (
                await session.exec(
                    select(func.coalesce(func.sum(ModelUsage.cost), 0.0)).where(
                        col(ModelUsage.team) == team, col(ModelUsage.at) >= since
                    )
                )
            ).one()
        self._spent[key] = (float(total), now)
        return float(total)
