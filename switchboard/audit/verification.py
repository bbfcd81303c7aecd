"""Proving the audit log intact: every record chained to the one before, up to the last seal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlmodel import col, select

from switchboard.audit.log import GENESIS, record_hash
from switchboard.audit.models import AuditRecord, AuditSeal
from switchboard.audit.seals import authentic, describe, newest_seal
from switchboard.db import Sessions


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str
    """Completes "record `seq` ...", e.g. "is missing"."""


@dataclass(frozen=True)
class Verified:
    checked: int
    broken: Break | None
    seal: AuditSeal | None
    """The seal the chain was checked against, if the log has one."""
    last_hash: str
    """The hash of record `checked`, the last one found intact."""


async def verify(sessions: Sessions, key: bytes | None = None) -> tuple[int, Break | None]:
    """Walk the chain; return how many records were checked and the first break, if any."""
    result = await verify_sealed(sessions, key)
    return result.checked, result.broken


async def verify_sealed(sessions: Sessions, key: bytes | None = None) -> Verified:
    """`verify`, naming the seal it checked against. The newest seal is read before the walk,
    so records appended meanwhile never make it look broken; without `key` its authenticity
    is not checked, only that the chain still reaches it."""
    async with sessions() as session:
        seal = await newest_seal(session)
    checked, previous = 0, GENESIS
    async for record in _records(sessions):
        expected = checked + 1
        broken = _break(record, expected, previous, seal)
        if broken is not None:
            return Verified(checked, broken, seal, previous)
        checked, previous = expected, record.hash
    if seal is not None and checked < seal.seq:
        missing = Break(checked + 1, f"is missing: the log was sealed through {describe(seal)}")
        return Verified(checked, missing, seal, previous)
    if seal is not None and key is not None and not authentic(seal, key):
        forged = Break(
            seal.seq,
            f"has a seal this deployment's secret key did not make ({describe(seal)}): "
            "a forged seal, or the wrong secret key file",
        )
        return Verified(checked, forged, seal, previous)
    return Verified(checked, None, seal, previous)


def _break(
    record: AuditRecord, expected: int, previous: str, seal: AuditSeal | None
) -> Break | None:
    if record.seq != expected:
        return Break(expected, "is missing")
    if record.prev_hash != previous:
        return Break(expected, "does not follow the record before it")
    if record_hash(record) != record.hash:
        return Break(expected, "was altered after it was written")
    if seal is not None and expected == seal.seq and record.hash != seal.hash:
        return Break(
            expected,
            f"differs from the seal of {describe(seal)}: the chain was rewritten up to here",
        )
    return None


async def _records(sessions: Sessions, page: int = 1000) -> AsyncIterator[AuditRecord]:
    after = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.exec(
                    select(AuditRecord)
                    .where(col(AuditRecord.seq) > after)
                    .order_by(col(AuditRecord.seq))
                    .limit(page)
                )
            ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq or after
