"""Prepared statements read and write exactly what SQLAlchemy's own execution does, on each
backend: JSON, datetimes, booleans and literal parameters included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from registry.models import Role
from registry.teams import add_member, ensure_team
from switchboard.db import create_sync_engine
from switchboard.identity.accounts import create_user
from switchboard.identity.models import PersonalAccessToken
from switchboard.identity.pats import _PAT_STANDING, create_pat, digest
from switchboard.prepared import Prepared
from switchboard.services import Services


async def test_a_prepared_select_matches_sqlalchemy(services: Services) -> None:
    async with services.transaction() as session:
        team = await ensure_team(session, "blue")
        user = await create_user(session, "ada", role=Role.developer, password=None)
        await add_member(session, team, user)
        token, _ = await create_pat(
            session, user, name="t", scopes=["mcp"], allowed={"mcp"}, expires_in=timedelta(days=1)
        )
    engine = create_sync_engine(services.settings.effective_database_url)
    try:
        with engine.connect() as connection:
            params = {"token_hash": digest(token)}
            expected = [tuple(row) for row in connection.execute(_PAT_STANDING, params).all()]
            connection.rollback()
            raw = connection.connection.dbapi_connection
            assert raw is not None
            prepared = Prepared.of(_PAT_STANDING, engine.dialect)
            assert prepared.select(raw, params) == expected
            assert prepared.select(raw, {"token_hash": "nothing"}) == []
    finally:
        engine.dispose()
    assert expected[0][-1] == "ada"
    assert expected[0][-5] == ["mcp"], "a JSON column comes back as JSON"
    assert isinstance(expected[0][-4], datetime)


async def test_a_prepared_write_converts_its_parameters(services: Services) -> None:
    async with services.transaction() as session:
        user = await create_user(session, "bo", role=Role.user, password=None)
        _, row = await create_pat(
            session, user, name="t", scopes=["mcp"], allowed={"mcp"}, expires_in=timedelta(days=1)
        )
    touch = (
        sa.update(PersonalAccessToken)
        .where(col(PersonalAccessToken.id) == sa.bindparam("token_id"))
        .values(last_used_at=sa.bindparam("now"))
    )
    moment = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)
    await services.reads.write(touch, {"token_id": row.id, "now": moment})
    async with services.sessions() as session:
        stored = await session.get(PersonalAccessToken, row.id)
    assert stored is not None
    assert stored.last_used_at is not None
    assert stored.last_used_at.replace(tzinfo=UTC) == moment


def test_expanding_parameters_are_refused() -> None:
    engine = sa.create_engine("sqlite://")
    statement = sa.select(col(PersonalAccessToken.id)).where(
        col(PersonalAccessToken.id).in_(sa.bindparam("ids", expanding=True))
    )
    with pytest.raises(ValueError, match="expanding"):
        Prepared.of(statement, engine.dialect)


async def test_a_dropped_kept_connection_is_replaced(services: Services) -> None:
    """A database restart closes the kept connections; the next read retries on a new one."""
    reads = services.reads
    statement = sa.select(sa.literal(1))
    assert await reads.rows(statement, {}) == [(1,)]
    for kept in reads._connections._idle:
        driver = kept.connection.dbapi_connection
        assert driver is not None
        driver.close()
    assert await reads.rows(statement, {}) == [(1,)]
