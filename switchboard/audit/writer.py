"""Group commit for the audit log: many callers, one transaction per batch.

A tool call must not answer before its record is durable, yet one commit per call would cost
more than the call itself. Callers hand their event to `AuditWriter.write` and wait; one writer
task takes everything queued since its last commit, chains it onto the tip in one transaction,
and wakes every waiter at once. A failed batch fails each of its waiters, never silently.

The batch is written on a kept synchronous connection in one worker-thread hop: through the
async driver each statement, the commit and the connection's return to the pool would each
cross threads, which cost more than the insert. Its statements are `Prepared`, so the thread
spends its time in the database rather than in SQLAlchemy's Python, holding the GIL.

Rows of other tables that must be as durable as the records they go with (a model call's usage)
can ride along: `write(event, rows=...)` commits them in the event's transaction, and `insert`
commits rows alone in the next batch, so a request pays one commit for both. They are given as
column values, not table models, whose construction cost more than their insert.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from sqlalchemy import Dialect, Table, insert
from sqlalchemy.engine.interfaces import DBAPIConnection

from switchboard.audit.log import APPEND_ATTEMPTS, GENESIS, TIP, Event, Tip, chain
from switchboard.audit.models import AuditRecord
from switchboard.db import KeptConnections, create_sync_engine
from switchboard.prepared import Prepared

logger = logging.getLogger(__name__)

MAX_BATCH = 500
Row = tuple[Table, Mapping[str, Any]]
"""A table and one row's column values (all but a primary key the database assigns)."""
AUDIT_TABLE: Table = AuditRecord.__table__  # type: ignore[attr-defined]


class AuditUnavailableError(RuntimeError):
    """The record could not be written; the action it describes must not be reported done."""


@dataclass(eq=False)
class _Pending:
    event: Event | None
    rows: Sequence[Row] = ()
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None


class AuditWriter:
    def __init__(self, database_url: str, *, max_batch: int = MAX_BATCH) -> None:
        self._database_url = database_url
        self._connections: KeptConnections | None = None
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wake = anyio.Event()
        self._running = False
        self._tip: Tip | None = None
        """Where this writer's last batch ended: usually still the tip, so not read again."""
        self._inserts: dict[tuple[Table, tuple[str, ...]], Prepared] = {}
        self._tip_query: Prepared | None = None
        self.batches = 0
        """Transactions committed, for tests and the benchmark to see batching happen."""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[AuditWriter]:
        engine = create_sync_engine(self._database_url)
        self._dialect: Dialect = engine.dialect
        connections = self._connections = KeptConnections(engine)
        try:
            async with anyio.create_task_group() as tasks:
                self._running = True
                tasks.start_soon(self._drain_forever)
                try:
                    yield self
                finally:
                    self._running = False
                    self._wake.set()
                    with anyio.CancelScope(shield=True):
                        await self._flush_remaining(tasks)
        finally:
            self._connections = None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(connections.close)

    async def write(self, event: Event, *, rows: Sequence[Row] = ()) -> None:
        """Return once `event` (and `rows`, in the same transaction) is committed; raise
        `AuditUnavailableError` if it could not be."""
        await self._submit(_Pending(event, rows))

    async def insert(self, rows: Sequence[Row]) -> None:
        """Return once `rows` are committed, in the next batch, with no audit record."""
        await self._submit(_Pending(None, rows))

    async def _submit(self, pending: _Pending) -> None:
        if not self._running:
            raise AuditUnavailableError("the audit writer is not running")
        self._queue.append(pending)
        self._wake.set()
        await pending.done.wait()
        if pending.error is not None:
            what = "the audit record was" if pending.event is not None else "the records were"
            raise AuditUnavailableError(f"{what} not written: {pending.error}")

    async def _drain_forever(self) -> None:
        while self._running:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._queue:
                await self._commit_batch()

    async def _flush_remaining(self, tasks: TaskGroup) -> None:
        while self._queue:
            await self._commit_batch()
        tasks.cancel_scope.cancel()

    async def _commit_batch(self) -> None:
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        try:
            self._tip = await anyio.to_thread.run_sync(self._append, batch)
            self.batches += 1
        except Exception as exc:
            logger.exception("could not write %d audit records", len(batch))
            self._tip = None
            for pending in batch:
                pending.error = exc
        for pending in batch:
            pending.done.set()

    def _append(self, batch: list[_Pending]) -> Tip | None:
        """Runs in a worker thread. Another process may have appended since this writer's last
        batch: the unique `prev_hash` refuses the stale tip and the chain is read afresh."""
        assert self._connections is not None, "only called while running"
        events = [p.event for p in batch if p.event is not None]
        rows: dict[Table, list[Mapping[str, Any]]] = {}
        for pending in batch:
            for table, values in pending.rows:
                rows.setdefault(table, []).append(values)
        refused = self._dialect.loaded_dbapi.IntegrityError
        tip = self._tip
        for _ in range(APPEND_ATTEMPTS):
            with self._connections.connection() as connection:
                try:
                    if events:
                        tip = self._chain_onto(connection, events, tip)
                    for table, table_rows in rows.items():
                        self._insert(table, table_rows[0]).execute_many(connection, table_rows)
                    connection.commit()
                    return tip
                except refused:
                    connection.rollback()
                    tip = None
                except BaseException:
                    connection.rollback()
                    raise
        raise RuntimeError(f"could not append to the audit log after {APPEND_ATTEMPTS} attempts")

    def _chain_onto(self, connection: DBAPIConnection, events: list[Event], tip: Tip | None) -> Tip:
        if tip is None:
            if self._tip_query is None:
                self._tip_query = Prepared.of(TIP, self._dialect)
            last = self._tip_query.fetch(connection, {})
            tip = (last[0][0], last[0][1]) if last else (0, GENESIS)
        records = chain(events, tip)
        self._insert(AUDIT_TABLE, records[0]).execute_many(connection, records)
        return records[-1]["seq"], records[-1]["hash"]

    def _insert(self, table: Table, example: Mapping[str, Any]) -> Prepared:
        key = (table, tuple(example))
        prepared = self._inserts.get(key)
        if prepared is None:
            prepared = self._inserts[key] = Prepared.of(
                insert(table), self._dialect, columns=key[1]
            )
        return prepared
