"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `SWITCHBOARD_TEST_POSTGRES_URL` (an account allowed to create databases);
each test gets a database of its own. Under `CI=true` a missing PostgreSQL is an error, not a
skip, so CI can never pass without running the PostgreSQL half.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from starlette.applications import Starlette

from registry.models import Role
from registry.teams import add_member, ensure_team
from switchboard.app import create_app
from switchboard.identity.accounts import create_user
from switchboard.identity.pats import create_pat
from switchboard.services import Services, open_services
from switchboard.settings import Settings

POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI") == "true"
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'switchboard.db'}"
        return
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but SWITCHBOARD_TEST_POSTGRES_URL is not set")
        pytest.skip("set SWITCHBOARD_TEST_POSTGRES_URL to run the PostgreSQL half")
    name = f"sbtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin: Engine, name: str) -> None:
    """Drop a test database, retrying while a backend this role may not end (an autovacuum
    worker, when the role lacks `pg_signal_backend`) is still visiting it."""
    for attempt in range(50):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except ProgrammingError:
            if attempt == 49:
                raise
            time.sleep(0.2)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as opened:
        yield opened


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan running in a task of its own, since the lifespan holds a task
    group that must be entered and left by one task (fixture set-up and tear-down are two)."""
    application = create_app(settings)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        async with application.router.lifespan_context(application):
            started.set()
            await stop.wait()

    task = asyncio.create_task(serve())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED")
    if task.done():
        task.result()
    yield application
    stop.set()
    await task


async def user_with_token(
    services: Services, name: str, role: Role, scopes: list[str], *, teams: tuple[str, ...] = ()
) -> str:
    """A user (added to `teams` and the default team) and a personal access token of theirs."""
    async with services.transaction() as session:
        user = await create_user(session, name, role=role, password=TEST_PASSWORD)
        for team in (services.settings.default_team, *teams):
            await add_member(session, await ensure_team(session, team), user)
        token, _ = await create_pat(
            session,
            user,
            name="tests",
            scopes=scopes,
            allowed=set(scopes),
            expires_in=timedelta(days=1),
        )
    return token


@pytest.fixture
async def anonymous(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials, as a stranger on the network would be."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        yield http


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as `alice`, an admin, through a personal access token."""
    token = await user_with_token(app.state.services, "alice", Role.admin, ["api", "mcp"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1:8080",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Point the in-process CLI at the test's data dir and database."""
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SWITCHBOARD_ACTOR", "alice")
    return settings
