"""Recording what discovery found, with a stand-in for the sandbox that lists the tools."""

from __future__ import annotations

from registry import review
from registry.manifest import ParsedManifest
from registry.models import Team, User, pk
from registry.publishing import publish_manifest
from registry.tooldefs import Tool
from sandboxes.discovery import DiscoveryResult, discover_with
from sandboxes.runtime import Launch
from switchboard.services import Services

LONGEST = "n" * 123
"""The longest name the `time` server may give a tool: `time.` + 123 characters is 128."""


async def discovered(
    services: Services, people: tuple[Team, User], manifest: ParsedManifest, names: list[str]
) -> DiscoveryResult:
    """Publish `manifest` and discover it as a server listing tools called `names`."""
    team, alice = people
    async with services.transaction() as session:
        version = await publish_manifest(session, manifest, team=team, actor=alice, discover=True)

    async def listed(_target: Launch) -> list[Tool]:
        return [Tool(name=name, input_schema={"type": "object"}) for name in names]

    return await discover_with(
        listed, services.sessions, services.secrets, pk(version), actor=alice
    )


async def test_tools_whose_prefixed_names_are_not_valid_mcp_names_fail_discovery(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    names = ["convert_time", "weird name/x", "über", "a" * 128, "", LONGEST]
    result = await discovered(services, people, time_manifest, names)

    assert result.status == "failed"
    log = result.log or ""
    headline, *reasons = log.splitlines()
    assert "valid MCP tool names as `time.<tool>`" in headline
    assert "then run `switchboard discover`" in headline
    assert reasons == [
        "  'weird name/x': contains ' ', '/'",
        "  'über': contains 'ü'",
        f"  {'a' * 128!r}: 133 characters with the `time.` prefix, 5 too many",
        "  '': the name is empty",
    ]
    async with services.sessions() as session:
        detail = await review.describe(session, time_manifest.manifest.name)
    assert detail.status == "failed"
    assert detail.build_log == log
    assert detail.history[-1].reason == headline
    assert detail.tools == []


async def test_a_name_of_exactly_128_characters_with_its_prefix_is_discovered(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    result = await discovered(services, people, time_manifest, ["convert_time", LONGEST])

    assert result.status == "pending", result.log
    assert result.tools == ["convert_time", LONGEST]
