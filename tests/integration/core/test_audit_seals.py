"""Seals and the append-only guard: what a hash chain alone cannot show, on both databases."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, func, select

from switchboard.audit.log import Event, append, record_hash
from switchboard.audit.models import AuditRecord, AuditSeal
from switchboard.audit.seals import SealRefusedError, reseal, seal, seal_forever, seal_key
from switchboard.audit.verification import verify, verify_sealed
from switchboard.services import Services
from tests.audit_tampering import drop_append_only_guards


async def record(services: Services, count: int) -> None:
    for n in range(count):
        await append(services.sessions, Event("alice", "tool.call", "ok", f"tool-{n}"))


async def seal_count(services: Services) -> int:
    async with services.sessions() as session:
        return (await session.exec(select(func.count()).select_from(AuditSeal))).one()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_record SET outcome = 'error' WHERE seq = 1",
        "DELETE FROM audit_record WHERE seq = 2",
        "DELETE FROM audit_record",
        "UPDATE audit_seal SET seq = 1",
        "DELETE FROM audit_seal",
    ],
)
async def test_the_database_refuses_to_change_records_or_seals(
    services: Services, statement: str
) -> None:
    await record(services, 2)
    await seal(services.sessions, services.audit_seal_key)
    with pytest.raises(DBAPIError, match="append-only"):
        async with services.engine.begin() as connection:
            await connection.execute(text(statement))
    result = await verify_sealed(services.sessions, services.audit_seal_key)
    assert (result.checked, result.broken) == (2, None)
    assert result.seal is not None
    assert result.seal.seq == 2


async def test_truncate_cannot_bypass_the_guard(services: Services) -> None:
    """PostgreSQL's TRUNCATE fires no row trigger, so it has its own; SQLite has no TRUNCATE,
    and its `DELETE FROM` without a condition is refused above."""
    await record(services, 1)
    refusal = "append-only" if services.engine.dialect.name == "postgresql" else "syntax error"
    for table in ("audit_record", "audit_seal"):
        with pytest.raises(DBAPIError, match=refusal):
            async with services.engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {table}"))
    assert await verify(services.sessions) == (1, None)


async def test_a_seal_covers_the_tip_and_is_made_only_when_it_moved(services: Services) -> None:
    key = services.audit_seal_key
    assert await seal(services.sessions, key) is None, "an empty log has nothing to seal"
    await record(services, 3)
    first = await seal(services.sessions, key)
    assert first is not None
    assert first.seq == 3
    again = await seal(services.sessions, key)
    assert again is not None
    assert again.id == first.id
    await record(services, 2)
    second = await seal(services.sessions, key)
    assert second is not None
    assert second.seq == 5
    assert await seal_count(services) == 2
    result = await verify_sealed(services.sessions, key)
    assert (result.checked, result.broken) == (5, None)
    assert result.seal is not None
    assert result.seal.id == second.id


async def test_removing_sealed_records_is_reported_and_never_sealed_over(
    services: Services,
) -> None:
    await record(services, 5)
    await seal(services.sessions, services.audit_seal_key)
    async with services.engine.begin() as connection:
        await drop_append_only_guards(connection)
        await connection.execute(text("DELETE FROM audit_record WHERE seq > 3"))
    checked, broken = await verify(services.sessions)
    assert checked == 3
    assert broken is not None
    assert broken.seq == 4
    assert broken.problem.startswith("is missing: the log was sealed through record 5")
    await record(services, 1)
    with pytest.raises(SealRefusedError, match="lost its newest records: there is no record 5"):
        await seal(services.sessions, services.audit_seal_key)
    assert await seal_count(services) == 1


async def test_a_recomputed_chain_differs_from_its_seal(services: Services) -> None:
    """The attack a bare hash chain cannot see: edit a record, then rehash every one after it."""
    await record(services, 5)
    await seal(services.sessions, services.audit_seal_key)
    async with services.engine.begin() as connection:
        await drop_append_only_guards(connection)
    async with services.transaction() as session:
        rows = (await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))).all()
        previous = rows[0].hash
        for row in rows[1:]:
            if row.seq == 2:
                row.outcome = "denied"
            row.prev_hash = previous
            row.hash = previous = record_hash(row)
            session.add(row)
            await session.flush()
    checked, broken = await verify(services.sessions)
    assert checked == 4
    assert broken is not None
    assert broken.seq == 5
    assert broken.problem.startswith("differs from the seal of record 5")
    with pytest.raises(SealRefusedError, match="the chain was rewritten: record 5 is not"):
        await seal(services.sessions, services.audit_seal_key)


async def test_a_seal_from_another_key_is_reported(services: Services) -> None:
    await record(services, 3)
    await seal(services.sessions, seal_key(b"k" * 32))
    assert await verify(services.sessions) == (3, None), "without the key only reach is checked"
    checked, broken = await verify(services.sessions, services.audit_seal_key)
    assert checked == 3
    assert broken is not None
    assert broken.seq == 3
    assert "secret key did not make" in broken.problem
    with pytest.raises(SealRefusedError, match="not made with this deployment's secret key"):
        await seal(services.sessions, services.audit_seal_key)


async def test_sealing_forever_seals_at_start_and_once_more_when_stopped(
    services: Services,
) -> None:
    await record(services, 2)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(seal_forever, services.sessions, services.audit_seal_key, 3600.0)
        with anyio.fail_after(10):
            while await seal_count(services) == 0:
                await anyio.sleep(0.02)
        await record(services, 3)
        tasks.cancel_scope.cancel()
    result = await verify_sealed(services.sessions, services.audit_seal_key)
    assert result.broken is None
    assert result.seal is not None
    assert result.seal.seq == 5
    assert await seal_count(services) == 2


async def test_a_reseal_records_what_it_accepts_and_sealing_goes_on(services: Services) -> None:
    key = services.audit_seal_key
    await record(services, 2)
    assert await reseal(services.sessions, key, actor="sam", reason="x") is None
    await seal(services.sessions, seal_key(b"k" * 32))
    accepted = await reseal(services.sessions, key, actor="sam", reason="key file restored")
    assert accepted is not None
    assert "not made with this deployment's secret key" in accepted
    async with services.sessions() as session:
        last = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) == 3))).one()
    assert (last.actor, last.action) == ("sam", "audit.reseal")
    assert last.detail["reason"] == "key file restored"
    assert last.detail["previous_seal"]["seq"] == 2
    await record(services, 1)
    sealed = await seal(services.sessions, key)
    assert sealed is not None
    assert sealed.seq == 4
    assert await verify(services.sessions, key) == (4, None)
