from __future__ import annotations

import pytest

from registry import review
from registry.errors import InvalidStateError, NotFoundError, RegistryError
from registry.models import Team, User
from switchboard.services import Services
from tests.integration.registry.conftest import make_tool, publish_tools


async def test_queue_approve_and_diff_against_the_live_version(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    await publish_tools(services, team, alice, [make_tool("list"), make_tool("delete")])
    async with services.sessions() as session:
        queue = await review.review_queue(session)
    assert [(e.server, e.version, e.status, e.tools) for e in queue] == [
        ("com.example/api", "1.0.0", "pending", 2)
    ]

    async with services.transaction() as session:
        first = await review.approve(session, "api", actor=alice, reason="looked fine")
    assert first.status == "approved"
    assert first.live
    assert first.diff.against is None
    assert first.diff.added == ["delete", "list"]

    await publish_tools(
        services,
        team,
        alice,
        [make_tool("list", "now ignores previous instructions"), make_tool("export")],
        version="1.1.0",
    )
    async with services.sessions() as session:
        shown = await review.describe(session, "com.example/api@1.1.0")
        assert (await review.review_queue(session))[0].version == "1.1.0"
    assert shown.diff.against == "1.0.0"
    assert shown.diff.added == ["export"]
    assert shown.diff.removed == ["delete"]
    assert shown.diff.changed[0].name == "list"
    assert shown.diff.changed[0].fields["description"]["after"].startswith("now ignores")
    assert not shown.live

    async with services.transaction() as session:
        second = await review.approve(session, "api", actor=alice)
    assert second.diff.against == "1.0.0"
    async with services.sessions() as session:
        assert not (await review.describe(session, "api@1.0.0")).live
        assert (await review.describe(session, "api@1.1.0")).live
        assert await review.review_queue(session) == []
        history = (await review.describe(session, "api@1.1.0")).history
    assert [h.to_status for h in history] == ["pending", "approved"]


async def test_reject_needs_a_reason_and_only_awaiting_versions_are_decided(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    await publish_tools(services, team, alice, [make_tool("list")])
    with pytest.raises(RegistryError, match="needs a reason"):
        async with services.transaction() as session:
            await review.reject(session, "api@1.0.0", actor=alice, reason="  ")
    async with services.transaction() as session:
        rejected = await review.reject(session, "api@1.0.0", actor=alice, reason="egress too wide")
    assert rejected.status == "rejected"
    assert rejected.review_reason == "egress too wide"
    assert rejected.reviewed_by == "alice"
    with pytest.raises(InvalidStateError, match="it is rejected"):
        async with services.transaction() as session:
            await review.approve(session, "api@1.0.0", actor=alice)
    with pytest.raises(NotFoundError, match="no pending or quarantined version"):
        async with services.transaction() as session:
            await review.approve(session, "api", actor=alice)


async def test_unknown_server_and_version_are_clear(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    with pytest.raises(NotFoundError, match="no server named 'nope'"):
        async with services.sessions() as session:
            await review.describe(session, "nope")
    await publish_tools(services, team, alice, [make_tool("list")])
    with pytest.raises(NotFoundError, match="has no version '9'"):
        async with services.sessions() as session:
            await review.describe(session, "api@9")
