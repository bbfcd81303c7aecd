"""The catalogue index that every caller's tool list is cut from."""

from __future__ import annotations

import logging

import pytest

from registry import review
from registry.models import Team, User
from registry.visibility import load_index
from switchboard.services import Services
from tests.integration.registry.conftest import make_tool, publish_tools


async def test_a_tool_whose_prefixed_name_is_not_a_valid_mcp_name_is_left_out(
    services: Services, people: tuple[Team, User], caplog: pytest.LogCaptureFixture
) -> None:
    """The OpenAPI importer keeps names within 128 characters, before the `api.` prefix."""
    team, alice = people
    longest = "a" * 128
    await publish_tools(services, team, alice, [make_tool("list"), make_tool(longest)])
    async with services.transaction() as session:
        await review.approve(session, "api", actor=alice)

    with caplog.at_level(logging.WARNING, logger="registry.visibility"):
        async with services.sessions() as session:
            index = await load_index(session)

    assert [tool.name for tools in index.by_server.values() for tool in tools] == ["api.list"]
    assert f"tool 'api.{longest}' is left out of every tool list" in caplog.text
