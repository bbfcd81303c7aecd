"""Publishing agent versions: immutable, idempotent for the same document, audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agents.publishing import list_versions, publish_agent
from agents.spec import AgentDocument
from agents.tables import AgentRecord, AgentVersionRecord
from agents.versions import load_version
from registry.errors import ConflictError, NotFoundError
from registry.teams import ensure_team, ensure_user
from switchboard.audit.models import AuditRecord
from switchboard.services import Services
from tests.integration.agents_catalog.conftest import agent


async def publish(services: Services, document: AgentDocument, team: str | None = None) -> bool:
    async with services.transaction() as session:
        owner = await ensure_team(session, team or services.settings.default_team)
        actor = await ensure_user(session, "dana")
        return (await publish_agent(session, document, team=owner, actor=actor)).created


async def audited(services: Services) -> list[tuple[str, str | None, str]]:
    async with services.sessions() as session:
        rows = await session.exec(select(AuditRecord).where(AuditRecord.action == "agent.publish"))
        return [(r.actor, r.target, r.detail["digest"]) for r in rows]


async def test_publish_is_idempotent_and_audited_once(services: Services) -> None:
    document = agent()
    assert await publish(services, document) is True
    assert await publish(services, agent()) is False
    assert await audited(services) == [("dana", "greeter@1.0.0", document.digest)]


async def test_changed_content_under_a_published_version_is_refused(services: Services) -> None:
    await publish(services, agent())
    with pytest.raises(ConflictError, match=r"bump `switchboard.version` \(now 1.0.0\)"):
        await publish(services, agent(summary="Says hello, loudly."))
    async with services.sessions() as session:
        _, stored = await load_version(session, "greeter")
    assert stored.switchboard.summary == "Says hello."
    assert len(await audited(services)) == 1


async def test_versions_newest_first_and_latest_skips_withdrawn(services: Services) -> None:
    await publish(services, agent())
    await publish(services, agent(version="1.1.0", summary="Says hello twice."))
    async with services.transaction() as session:
        row, document = await load_version(session, "greeter")
        assert (row.version, document.switchboard.summary) == ("1.1.0", "Says hello twice.")
        older, _ = await load_version(session, "greeter", "1.0.0")
        assert older.version == "1.0.0"
        record = (await session.exec(select(AgentRecord))).one()
        assert [v.version for v in await list_versions(session, record)] == ["1.1.0", "1.0.0"]
        row.withdrawn = True
        session.add(row)
    async with services.sessions() as session:
        latest, _ = await load_version(session, "greeter")
        assert latest.version == "1.0.0"
        withdrawn, _ = await load_version(session, "greeter", "1.1.0")
        assert withdrawn.withdrawn


async def test_only_the_owning_team_publishes_new_versions(services: Services) -> None:
    await publish(services, agent())
    with pytest.raises(ConflictError, match="owned by team 'default'"):
        await publish(services, agent(version="2.0.0"), team="ops")
    async with services.sessions() as session:
        assert len((await session.exec(select(AgentVersionRecord))).all()) == 1


async def test_unknown_agents_and_versions(services: Services) -> None:
    await publish(services, agent())
    async with services.sessions() as session:
        with pytest.raises(NotFoundError, match="no agent named 'nobody'"):
            await load_version(session, "nobody")
        with pytest.raises(NotFoundError, match=r"no version '9\.9\.9'"):
            await load_version(session, "greeter", "9.9.9")
