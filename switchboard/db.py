"""Database engine and sessions. Every request path uses the async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine, event, make_url
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


def create_sync_engine(async_url: str) -> Engine:
    """A one-connection synchronous engine on the same database, for work that would otherwise
    cross aiosqlite's thread once per statement: it runs whole in one worker thread instead."""
    url = make_url(async_url)
    if url.drivername == "sqlite+aiosqlite":
        engine = create_sync_engine_for(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=1,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_sync_engine_for(url, pool_size=1, pool_pre_ping=True)


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
