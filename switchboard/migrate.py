"""Bring a database to the newest schema with Alembic, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works; it names the one advisory lock every Switchboard process takes to bootstrap.
BOOTSTRAP_LOCK = 0x5B_0001


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@asynccontextmanager
async def exclusive(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction that no other process bootstrapping the same database runs beside.

    Replicas, `switchboard init` and `serve` may start together (compose does exactly that); without
    this, two of them create the same tables or default rows at once and one fails.
    """
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await connection.begin()
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOTSTRAP_LOCK}
            )
        try:
            yield connection
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()


async def upgrade_on(connection: AsyncConnection, revision: str = "head") -> None:
    await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations; a no-op on an up-to-date database, so safe on every start."""
    async with exclusive(engine) as connection:
        await upgrade_on(connection, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
