"""Group commit: concurrent writers share transactions, and other writers may append between
batches without breaking the chain or losing a record."""

from __future__ import annotations

import anyio

from switchboard.audit.log import Event, append
from switchboard.audit.verification import verify
from switchboard.audit.writer import AuditWriter
from switchboard.services import Services


async def test_concurrent_writes_are_batched_and_chained(services: Services) -> None:
    writer = AuditWriter(services.settings.effective_database_url)
    async with writer.running(), anyio.create_task_group() as tasks:
        for n in range(200):
            tasks.start_soon(writer.write, Event("caller", "tool.call", "ok", f"t{n}"))
            if n % 50 == 0:
                tasks.start_soon(append, services.sessions, Event("admin", "grant", "ok"))
    checked, broken = await verify(services.sessions)
    assert broken is None
    assert checked == 204
    assert writer.batches < 200, "writes waiting together share one commit"
