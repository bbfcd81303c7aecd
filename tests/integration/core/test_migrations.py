from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

from switchboard import migrate
from switchboard.db import create_engine
from switchboard.services import Services, bootstrap
from switchboard.settings import Settings

HEAD = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()


async def test_models_and_migrations_agree(services: Services) -> None:
    """A model change without its migration fails here, on both databases."""
    async with services.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    assert diff == []


async def test_downgrade_and_upgrade_round_trip(services: Services) -> None:
    assert await migrate.current_revision(services.engine) == HEAD
    async with services.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.downgrade(migrate.alembic_config(sync), "base")
        )
    assert await migrate.current_revision(services.engine) is None
    await migrate.upgrade(services.engine)
    await migrate.upgrade(services.engine)
    assert await migrate.current_revision(services.engine) == HEAD


@pytest.mark.empty_database
async def test_processes_bootstrapping_together_do_not_collide(settings: Settings) -> None:
    """`serve` and `init` start side by side under compose: each waits for the other's schema."""
    engines = [create_engine(settings.effective_database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(bootstrap(engine, "everyone") for engine in engines))
        assert await migrate.current_revision(engines[0]) == HEAD
        async with engines[0].connect() as connection:
            teams = await connection.execute(text("SELECT name FROM team"))
            assert [row.name for row in teams] == ["everyone"]
    finally:
        for engine in engines:
            await engine.dispose()
