"""Database engine and sessions. Every request path uses the async engine."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from sqlalchemy import ClauseElement, Connection, Engine, event, make_url
from sqlalchemy import create_engine as create_sync_engine_for
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from switchboard.prepared import Prepared

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned per backend: SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def create_sync_engine(async_url: str, *, connections: int = 1) -> Engine:
    """A one-connection synchronous engine on the same database, for work that would otherwise
    cross aiosqlite's thread once per statement: it runs whole in one worker thread instead."""
    url = make_url(async_url)
    if url.drivername == "sqlite+aiosqlite":
        engine = create_sync_engine_for(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=connections,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_sync_engine_for(url, pool_size=connections, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()
    if mode is None or str(mode[0]).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as exc:
            # Processes opening a new database together race to switch it; SQLite refuses the
            # losers at once ("database is locked") instead of waiting, and the winner's switch
            # holds for every connection, since WAL mode is stored in the file.
            if "locked" not in str(exc):
                raise
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A session whose work commits together or not at all."""
    async with sessions() as session, session.begin():
        yield session


class KeptConnections:
    """Synchronous connections opened once and kept, each used by one thread at a time, handed
    out as the driver's own connection (for `Prepared` statements).

    Checking a connection out of SQLAlchemy's pool and resetting it on return costs several
    times what SQLite takes to run a bearer check's query (about 60 us against 7 here). Whoever
    uses a connection ends the transaction it opened (a read rolls back, so the next read sees
    the newest commit); a connection is closed, never reused, after any error.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Connection] = []

    @contextmanager
    def connection(self) -> Iterator[DBAPIConnection]:
        """Called from worker threads; `list.pop`/`append` keep two from sharing one."""
        kept = self._idle.pop() if self._idle else self._engine.connect()
        try:
            driver = kept.connection.dbapi_connection
            assert driver is not None, "a kept connection is open"
            yield driver
        except BaseException:
            kept.close()
            raise
        self._idle.append(kept)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
        self._engine.dispose()


@dataclass(eq=False)
class _Read:
    select: Callable[[DBAPIConnection, Mapping[str, Any]], Sequence[tuple[Any, ...]]]
    params: Mapping[str, Any]
    rows: Sequence[tuple[Any, ...]] = ()
    error: BaseException | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    """Set once answered, or once it must lead a hop (`lead`) in place of one that went away."""
    lead: bool = False
    batch: list[_Read] | None = None
    """On a leader: the reads its hop took, set by the hop's thread."""


class Reads:
    """Single statements that every request runs (the bearer check), whole in a worker-thread
    hop on a synchronous connection: through the async driver, opening a session, executing,
    fetching and the two rollbacks that close it would each cross threads. Each statement is
    `Prepared` once and run on the driver's cursor.

    Reads that arrive while a hop is on its way to its thread ride along with it (as commits
    do in the audit writer's group commit): under load one hop serves several requests, each
    still read after it arrived, and a lone request waits for nobody.
    """

    def __init__(self, async_url: str, *, connections: int = 4) -> None:
        engine = create_sync_engine(async_url, connections=connections)
        self._dialect = engine.dialect
        self._connections = KeptConnections(engine)
        self._threads = anyio.CapacityLimiter(connections)
        """As many threads as pooled connections: a burst queues here, instead of opening
        (and, past the pool, closing again) a connection per extra thread."""
        self._prepared: dict[int, tuple[ClauseElement, Prepared]] = {}
        self._waiting: list[_Read] = []
        self._gathering = False
        """A hop has been asked for and its thread has not yet taken `_waiting`."""
        self._lock = threading.Lock()

    async def rows(
        self, statement: ClauseElement, params: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]]:
        read = _Read(self._prepare(statement).select, params)
        with self._lock:
            self._waiting.append(read)
            read.lead, self._gathering = not self._gathering, True
        if not read.lead:
            try:
                await read.done.wait()
            except BaseException:
                self._leave(read)
                raise
        if read.lead:
            await self._hop(read)
        if read.error is not None:
            raise read.error
        return read.rows

    async def _hop(self, leader: _Read) -> None:
        try:
            await anyio.to_thread.run_sync(self._read_waiting, leader, limiter=self._threads)
        finally:
            # Once its thread has started, a hop runs to the end, cancelled or not.
            if leader.batch is None:
                self._leave(leader)
            else:
                for read in leader.batch:
                    read.done.set()

    def _leave(self, read: _Read) -> None:
        """`read` goes away unanswered (cancelled): out of the queue, and if it was to lead the
        next hop, the next read in the queue leads it instead."""
        successor = None
        with self._lock:
            if read in self._waiting:
                self._waiting.remove(read)
            if read.lead and read.batch is None:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                else:
                    self._gathering = False
        if successor is not None:
            successor.done.set()

    def _read_waiting(self, leader: _Read) -> None:
        with self._lock:
            batch, self._waiting, self._gathering = self._waiting, [], False
        leader.batch = batch
        for read in batch:
            try:
                read.rows = self._retried(read.select, read.params)
            except Exception as exc:
                read.error = exc

    async def write(self, statement: ClauseElement, params: Mapping[str, Any]) -> None:
        """One statement in its own transaction (bookkeeping such as a token's last use)."""
        prepared = self._prepare(statement)
        await anyio.to_thread.run_sync(self._retried, _commit(prepared), params)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._connections.close)

    def _prepare(self, statement: ClauseElement) -> Prepared:
        """Statements are module constants: compiled on first use, kept by identity."""
        kept = self._prepared.get(id(statement))
        if kept is None or kept[0] is not statement:
            kept = self._prepared[id(statement)] = (
                statement,
                Prepared.of(statement, self._dialect),
            )
        return kept[1]

    def _retried(
        self, work: Callable[[DBAPIConnection, Mapping[str, Any]], T], params: Mapping[str, Any]
    ) -> T:
        try:
            return self._once(work, params)
        except _DroppedError:
            # A kept connection the database dropped (a restart): once more, on a new one.
            return self._once(work, params)

    def _once(
        self, work: Callable[[DBAPIConnection, Mapping[str, Any]], T], params: Mapping[str, Any]
    ) -> T:
        with self._connections.connection() as connection:
            try:
                return work(connection, params)
            except self._dialect.loaded_dbapi.Error as exc:
                if self._dialect.is_disconnect(exc, connection, None):
                    raise _DroppedError from exc
                raise


class _DroppedError(Exception):
    """The database closed a kept connection; the connection has been discarded."""


def _commit(prepared: Prepared) -> Callable[[DBAPIConnection, Mapping[str, Any]], None]:
    def write(connection: DBAPIConnection, params: Mapping[str, Any]) -> None:
        try:
            prepared.execute_many(connection, [params])
        except BaseException:
            connection.rollback()
            raise
        connection.commit()

    return write
