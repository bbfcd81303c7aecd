"""Database engine and sessions. Every request path uses the async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from sqlalchemy import Engine, Executable, Row, event, make_url
from sqlalchemy import create_engine as create_sync_engine_for
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

Sessions = async_sessionmaker[AsyncSession]


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
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A session whose work commits together or not at all."""
    async with sessions() as session, session.begin():
        yield session


class Reads:
    """Single statements that every request runs (the bearer check), each whole in one
    worker-thread hop on a synchronous engine: through the async driver, opening a session,
    executing, fetching and the two rollbacks that close it would each cross threads."""

    def __init__(self, async_url: str, *, connections: int = 4) -> None:
        self._engine = create_sync_engine(async_url, connections=connections)
        self._threads = anyio.CapacityLimiter(connections)
        """As many threads as pooled connections: a burst queues here, instead of opening
        (and, past the pool, closing again) a connection per extra thread."""

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
        return await anyio.to_thread.run_sync(self._rows, statement, params, limiter=self._threads)

    async def write(self, statement: Executable, params: Mapping[str, Any]) -> None:
        """One statement in its own transaction (bookkeeping such as a token's last use)."""
        await anyio.to_thread.run_sync(self._write, statement, params, limiter=self._threads)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._engine.dispose)

    def _rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
        with self._engine.connect() as connection:
            return connection.execute(statement, params).all()

    def _write(self, statement: Executable, params: Mapping[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(statement, params)
