from __future__ import annotations

import pytest
from sqlmodel import col, select

from registry import grants, review, revision, secrets
from registry.errors import NotFoundError, RegistryError
from registry.lookup import get_server
from registry.models import ReviewStatus, Secret, ServerVersion, Team, User
from registry.teams import add_member, create_team, ensure_team, ensure_user
from switchboard.audit.models import AuditRecord
from switchboard.services import Services
from tests.integration.registry.conftest import make_tool, publish_tools


async def visible(services: Services, user: str) -> list[str]:
    async with services.sessions() as session:
        return [t.name for t in await services.catalog.visible_tools(session, user)]


@pytest.fixture
async def granted_world(services: Services, people: tuple[Team, User]) -> Team:
    """`com.example/api` approved with tools needing no, `read` and `admin` scopes; bob in `ops`."""
    team, alice = people
    await publish_tools(
        services,
        team,
        alice,
        [make_tool("ping"), make_tool("list", "lists", "read"), make_tool("wipe", "x", "admin")],
    )
    async with services.transaction() as session:
        await review.approve(session, "api", actor=alice)
        ops = await create_team(session, "ops")
        await add_member(session, ops, await ensure_user(session, "bob"))
    return ops


async def test_each_team_change_is_journalled_once(services: Services) -> None:
    async with services.transaction() as session:
        alice = await ensure_user(session, "alice")
        ops = await ensure_team(session, "ops")
        assert await ensure_team(session, "ops") == ops
        await ensure_team(session, services.settings.default_team)
        await add_member(session, ops, alice, actor=alice)
        await add_member(session, ops, alice)
    async with services.sessions() as session:
        records = await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))
        assert [(r.actor, r.action, r.target) for r in records] == [
            ("switchboard", "team.create", "ops"),
            ("alice", "team.member.add", "ops/alice"),
        ]


async def test_nothing_is_visible_without_a_grant(services: Services, granted_world: Team) -> None:
    assert await visible(services, "bob") == []


async def test_grants_and_scopes_decide_visibility(
    services: Services, people: tuple[Team, User], granted_world: Team
) -> None:
    _, alice = people
    async with services.transaction() as session:
        server = await get_server(session, "api")
        await grants.grant(session, granted_world, server, [], actor=alice)
    assert await visible(services, "bob") == ["api.ping"]

    async with services.transaction() as session:
        await grants.grant(session, granted_world, server, ["read"], actor=alice)
    assert await visible(services, "bob") == ["api.list", "api.ping"]

    async with services.transaction() as session:
        await grants.grant(session, granted_world, server, ["*"], actor=alice)
    assert await visible(services, "bob") == ["api.list", "api.ping", "api.wipe"]
    assert await visible(services, "alice") == []  # alice is in another team

    async with services.transaction() as session:
        await grants.revoke(session, granted_world, server)
    assert await visible(services, "bob") == []


async def test_unknown_scope_names_the_known_ones(
    services: Services, people: tuple[Team, User], granted_world: Team
) -> None:
    _, alice = people
    with pytest.raises(RegistryError, match="its scopes are: admin, read"):
        async with services.transaction() as session:
            server = await get_server(session, "api")
            await grants.grant(session, granted_world, server, ["write"], actor=alice)
    with pytest.raises(NotFoundError, match="no grant"):
        async with services.transaction() as session:
            await grants.revoke(session, granted_world, await get_server(session, "api"))


async def test_pending_rejected_and_quarantined_versions_are_invisible(
    services: Services, people: tuple[Team, User], granted_world: Team
) -> None:
    team, alice = people
    async with services.transaction() as session:
        await grants.grant(
            session, granted_world, await get_server(session, "api"), ["*"], actor=alice
        )
    await publish_tools(services, team, alice, [make_tool("new-tool")], version="2.0.0")
    assert "api.new-tool" not in await visible(services, "bob")  # pending: old version serves

    async with services.transaction() as session:
        row = (
            await session.exec(select(ServerVersion).where(ServerVersion.version == "1.0.0"))
        ).one()
        row.status = ReviewStatus.quarantined
        session.add(row)
        await revision.bump(session)
    assert await visible(services, "bob") == []


async def test_secrets_are_sealed_and_only_declared_names_accepted(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    await publish_tools(services, team, alice, [make_tool("ping")])
    async with services.transaction() as session:
        server = await get_server(session, "api")
        row = await session.get(ServerVersion, server.live_version_id or 1)
        assert row is not None
        row.policy = {**row.policy, "secrets": ["API_TOKEN"]}
        session.add(row)
    async with services.transaction() as session:
        with pytest.raises(RegistryError, match="declares no secret 'OTHER'"):
            await secrets.set_secret(session, services.secrets, server, "OTHER", "x", actor=alice)
        await secrets.set_secret(
            session, services.secrets, server, "API_TOKEN", "tok-123", actor=alice
        )
    async with services.sessions() as session:
        stored = (await session.exec(select(Secret))).one()
        assert b"tok-123" not in stored.ciphertext
        assert await secrets.secret_names(session, server) == ["API_TOKEN"]
        assert await secrets.reveal_secrets(session, services.secrets, server) == {
            "API_TOKEN": "tok-123"
        }
