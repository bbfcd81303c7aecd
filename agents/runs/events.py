"""A run's events: appended in order, each in its own commit, and followed live.

Appending takes the next sequence number from the run row in the same transaction, so writers
on any replica agree on the order. Followers replay what is stored after the last sequence they
saw, then wait for a local wake-up (or poll, for events another replica wrote) until the run is
finished and every event has been read.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.runs.tables import FINISHED, AgentRun, RunEvent
from switchboard.db import Sessions, transaction

REDACTED = "[redacted]"
FOLLOW_POLL_SECONDS = 1.0
QUIET_SECONDS = 15.0
"""After this long without an event, a follower is told the run is still there (`None`), so a
stream can send a keep-alive before a proxy drops an idle connection."""
MAX_TEXT = 20_000
"""Longest string kept in an event (tool results can be large; the model sees them whole)."""


class Redactor:
    """Replaces the sensitive answers wherever they appear in event data."""

    def __init__(self, secrets: Iterable[Any]) -> None:
        values = {str(value) for value in secrets if value is not None and str(value).strip()}
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._values:
                value = value.replace(secret, REDACTED)
            return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
        if isinstance(value, dict):
            return {str(k): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]


class EventLog:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._changed: dict[str, anyio.Event] = {}

    async def append(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        """Store one event; returns its sequence number."""
        async with transaction(self._sessions) as session:
            seq = await add_event(session, run_id, kind, data)
        self.notify(run_id)
        return seq

    def notify(self, run_id: str) -> None:
        """Wake this process's followers of `run_id` (after an event or a status change)."""
        changed = self._changed.pop(run_id, None)
        if changed is not None:
            changed.set()

    async def history(self, run_id: str, after: int = 0) -> list[StoredEvent]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(RunEvent)
                .where(RunEvent.run_id == run_id, col(RunEvent.seq) > after)
                .order_by(col(RunEvent.seq))
            )
            return [StoredEvent(r.seq, r.at, r.kind, r.data) for r in rows]

    async def follow(
        self, run_id: str, after: int = 0, *, quiet: float = QUIET_SECONDS
    ) -> AsyncIterator[StoredEvent | None]:
        """Every event after `after`, as it is stored, until the run has finished; `None`
        after each `quiet` seconds without one."""
        heard = time.monotonic()
        while True:
            changed = self._changed.setdefault(run_id, anyio.Event())
            async with self._sessions() as session:
                status = (
                    await session.exec(select(AgentRun.status).where(AgentRun.id == run_id))
                ).first()
            events = await self.history(run_id, after)
            for event in events:
                after = event.seq
                yield event
            if events:
                heard = time.monotonic()
            elif time.monotonic() - heard >= quiet:
                heard = time.monotonic()
                yield None
            if status is None or (status in FINISHED and not events):
                return
            if not events:
                with anyio.move_on_after(FOLLOW_POLL_SECONDS):
                    await changed.wait()


async def _next_seq(session: AsyncSession, run_id: str) -> int:
    """Reserve the run's next event number inside the caller's transaction."""
    result = await session.exec(
        update(AgentRun)
        .where(col(AgentRun.id) == run_id)
        .values(event_seq=AgentRun.event_seq + 1)
        .returning(col(AgentRun.event_seq))
    )
    seq: int = result.scalar_one()
    return seq


async def add_event(session: AsyncSession, run_id: str, kind: str, data: dict[str, Any]) -> int:
    """Add one event inside the caller's transaction; returns its sequence number."""
    seq = await _next_seq(session, run_id)
    session.add(RunEvent(run_id=run_id, seq=seq, kind=kind, data=data))
    return seq
