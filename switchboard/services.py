"""The long-lived objects a process needs, built once from the settings and passed down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.secretbox import SecretBox, load_or_create_key
from registry.teams import ensure_team
from registry.visibility import CatalogCache
from switchboard import migrate
from switchboard.audit import journal
from switchboard.audit.seals import seal_key
from switchboard.db import Reads, Sessions, create_engine, session_factory, transaction
from switchboard.identity.keys import SigningKeys
from switchboard.identity.tokens import AccessTokens
from switchboard.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    secrets: SecretBox
    catalog: CatalogCache
    keys: SigningKeys
    tokens: AccessTokens
    reads: Reads
    """For the per-request bearer check (`switchboard.identity.bearer`)."""
    audit_seal_key: bytes
    """Derived from the secret key; seals the audit log (`switchboard.audit.seals`)."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return transaction(self.sessions)


@asynccontextmanager
async def open_services(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Services]:
    """Create the data dir, key, schema and default team; dispose of the engine at the end."""
    journal.install()
    await anyio.Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    key = await anyio.to_thread.run_sync(load_or_create_key, settings.effective_secret_key_file)
    engine = create_engine(settings.effective_database_url)
    reads = Reads(settings.effective_database_url)
    try:
        if upgrade:
            await bootstrap(engine, settings.default_team)
        sessions = session_factory(engine)
        box = SecretBox(key)
        keys = SigningKeys(
            sessions,
            box,
            rotate_after=timedelta(days=settings.signing_key_rotation_days),
            keep_for=timedelta(seconds=2 * settings.access_token_seconds),
        )
        services = Services(
            settings=settings,
            engine=engine,
            sessions=sessions,
            secrets=box,
            catalog=CatalogCache(),
            keys=keys,
            tokens=AccessTokens(
                keys,
                issuer=settings.effective_public_url,
                lifetime_seconds=settings.access_token_seconds,
            ),
            reads=reads,
            audit_seal_key=seal_key(key),
        )
        yield services
    finally:
        await reads.close()
        await engine.dispose()


async def bootstrap(engine: AsyncEngine, default_team: str) -> None:
    """Newest schema and the default team, serialised against other processes doing the same."""
    async with migrate.exclusive(engine) as connection:
        await migrate.upgrade_on(connection)
        async with AsyncSession(bind=connection) as session:
            await ensure_team(session, default_team)
            await session.flush()
