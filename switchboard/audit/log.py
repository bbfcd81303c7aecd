"""Appending to the audit log.

Each record's hash covers its own fields and the previous record's hash, so altering, inserting
or deleting any record breaks every hash after it (`switchboard.audit.verification` walks it).
`prev_hash` is unique: a writer that lost a race for the chain's tip gets an integrity error and
appends again on the new tip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from switchboard.audit.models import AuditRecord
from switchboard.db import Sessions, transaction

GENESIS = "0" * 64
APPEND_ATTEMPTS = 20
HASHED = (
    "seq",
    "at",
    "actor",
    "on_behalf_of",
    "client",
    "action",
    "target",
    "outcome",
    "detail",
    "prev_hash",
)
"""The fields a record's hash covers: all but the hash itself."""
INSERT = insert(AuditRecord)
TIP = (
    select(col(AuditRecord.seq), col(AuditRecord.hash))
    .order_by(col(AuditRecord.seq).desc())
    .limit(1)
)
"""The last record's sequence number and hash, for appenders that must read the tip."""


@dataclass(frozen=True)
class Event:
    """What happened, before it has a place in the chain."""

    actor: str
    action: str
    outcome: str
    target: str | None = None
    on_behalf_of: str | None = None
    client: str | None = None
    detail: dict[str, Any] | None = None


def record_hash(record: AuditRecord | Mapping[str, Any]) -> str:
    """`record` may be a line of `audit export`, whose `at` is already `hashed_at`'s string,
    so that an export can be checked without the database."""
    fields = record.model_dump() if isinstance(record, AuditRecord) else record
    body = {name: fields[name] for name in HASHED}
    if not isinstance(body["at"], str):
        body["at"] = hashed_at(body["at"])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def hashed_at(moment: datetime) -> str:
    """`at` as a record's hash covers it, and as `audit export` writes it."""
    return as_utc(moment).isoformat()


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the hash must not depend on the backend."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Tip = tuple[int, str]
"""The last record's sequence number and hash."""


async def read_tip(session: AsyncSession) -> Tip:
    last = (await session.exec(TIP)).first()
    return (0, GENESIS) if last is None else (last[0] or 0, last[1])


async def append_in(
    session: AsyncSession, events: list[Event], tip: Tip | None = None
) -> list[AuditRecord]:
    """Chain `events` onto the tip inside the caller's transaction; `tip`, when the caller
    knows it, saves reading it (a stale one fails on the unique `prev_hash`)."""
    records = [AuditRecord(**row) for row in chain(events, tip or await read_tip(session))]
    session.add_all(records)
    await session.flush()
    return records


def append_sync(
    connection: Connection | Session, events: list[Event], tip: Tip | None = None
) -> Tip:
    """`append_in` for synchronous code (the registry journal's commit hook), inserting plain
    rows in one statement. Returns the new tip."""
    rows = chain(events, tip or _tip_sync(connection))
    connection.execute(INSERT, rows)
    return rows[-1]["seq"], rows[-1]["hash"]


def _tip_sync(connection: Connection | Session) -> Tip:
    last = connection.execute(TIP).first()
    return (0, GENESIS) if last is None else (last[0] or 0, last[1])


def chain(events: list[Event], tip: Tip) -> list[dict[str, Any]]:
    """The rows of records for `events`, each hashing the one before, the first following
    `tip`."""
    seq, prev = tip
    rows = []
    for event in events:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "at": datetime.now(UTC),
            "actor": event.actor,
            "on_behalf_of": event.on_behalf_of,
            "client": event.client,
            "action": event.action,
            "target": event.target,
            "outcome": event.outcome,
            "detail": event.detail or {},
            "prev_hash": prev,
        }
        row["hash"] = prev = record_hash(row)
        rows.append(row)
    return rows


async def append(sessions: Sessions, *events: Event, tip: Tip | None = None) -> list[AuditRecord]:
    """Durably append `events` in their own transaction, retrying when another writer won
    (then on the tip read afresh)."""
    for _ in range(APPEND_ATTEMPTS):
        try:
            async with transaction(sessions) as session:
                return await append_in(session, list(events), tip)
        except IntegrityError:
            tip = None
            continue
    raise RuntimeError(f"could not append to the audit log after {APPEND_ATTEMPTS} attempts")
