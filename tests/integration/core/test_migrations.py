from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from switchboard import migrate
from switchboard.services import Services

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
