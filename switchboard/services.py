"""The long-lived objects a process needs, built once from the settings and passed down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.secretbox import SecretBox, load_or_create_key
from registry.teams import ensure_team
from registry.visibility import CatalogCache
from switchboard import migrate
from switchboard.db import Sessions, create_engine, session_factory, transaction
from switchboard.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    secrets: SecretBox
    catalog: CatalogCache

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return transaction(self.sessions)


@asynccontextmanager
async def open_services(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Services]:
    """Create the data dir, key, schema and default team; dispose of the engine at the end."""
    await anyio.Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    key = await anyio.to_thread.run_sync(load_or_create_key, settings.effective_secret_key_file)
    engine = create_engine(settings.effective_database_url)
    try:
        if upgrade:
            await migrate.upgrade(engine)
        services = Services(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            secrets=SecretBox(key),
            catalog=CatalogCache(),
        )
        if upgrade:
            async with services.transaction() as session:
                await ensure_team(session, settings.default_team)
        yield services
    finally:
        await engine.dispose()
