"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `SWITCHBOARD_TEST_POSTGRES_URL` (an account allowed to create databases);
each test gets a database of its own. Under `CI=true` a missing PostgreSQL is an error, not a
skip, so CI can never pass without running the PostgreSQL half.

Each test's database starts at the newest schema with the default team, copied from a template
each test process migrates once (a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
PostgreSQL): migrating took 0.25 s per SQLite test and 0.8 s per PostgreSQL one, a copy a tenth
of that. Tests marked `empty_database` start from nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
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
from switchboard.db import create_engine as create_async_engine
from switchboard.identity.accounts import create_user
from switchboard.identity.pats import create_pat
from switchboard.services import Services, bootstrap, open_services
from switchboard.settings import Settings

POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI") == "true"
TEST_PASSWORD = "correct horse battery staple"


class Templates:
    """Databases at the newest schema, made once per test process and copied for each test."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._admin: Engine | None = None

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            _migrate(f"sqlite:///{path}")
            assert not path.with_name("template.db-wal").exists(), "closing checkpoints the WAL"
            self._sqlite = path
        return self._sqlite

    def postgres(self) -> str:
        if self._postgres is None:
            name = f"sbtemplate_{uuid.uuid4().hex[:12]}"
            create_database(self.admin, name)
            _migrate(_postgres_url(name))
            self._postgres = name
        return self._postgres

    @property
    def admin(self) -> Engine:
        if self._admin is None:
            assert POSTGRES_URL is not None
            self._admin = create_engine(
                make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"),
                isolation_level="AUTOCOMMIT",
            )
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            if self._postgres is not None:
                drop_database(self._admin, self._postgres)
            self._admin.dispose()


def _migrate(url: str) -> None:
    settings = Settings(database_url=url)

    async def bootstrapped() -> None:
        engine = create_async_engine(settings.effective_database_url)
        try:
            await bootstrap(engine, settings.default_team)
        finally:
            await engine.dispose()

    asyncio.run(bootstrapped())


def _postgres_url(name: str) -> str:
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def create_database(admin: Engine, name: str, template: str | None = None) -> None:
    copied = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copied}'))


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[str]:
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        if not empty:
            shutil.copyfile(templates.sqlite(), path)
        yield f"sqlite:///{path}"
        return
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but SWITCHBOARD_TEST_POSTGRES_URL is not set")
        pytest.skip("set SWITCHBOARD_TEST_POSTGRES_URL to run the PostgreSQL half")
    name = f"sbtest_{uuid.uuid4().hex[:12]}"
    create_database(templates.admin, name, None if empty else templates.postgres())
    try:
        yield _postgres_url(name)
    finally:
        drop_database(templates.admin, name)


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
