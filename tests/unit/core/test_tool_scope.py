"""`tool:<slug>.<tool>`: the per-tool scope an agent run's token carries covers that tool only."""

from __future__ import annotations

from registry.visibility import IndexedTool
from switchboard.identity.scopes import effective_tools, reaches_mcp, token_allows, tool_scope

ADD = IndexedTool(1, 1, "calculator.evaluate", frozenset(), {})
STATS = IndexedTool(1, 1, "calculator.statistics", frozenset(), {})
CONVERT = IndexedTool(2, 2, "time.convert_time", frozenset({"time:convert"}), {})


def test_a_tool_scope_allows_exactly_its_tool() -> None:
    scopes = frozenset({tool_scope("calculator.evaluate")})
    assert token_allows(ADD, scopes)
    assert not token_allows(STATS, scopes)
    assert not token_allows(CONVERT, scopes)
    assert effective_tools([ADD, STATS, CONVERT], scopes) == [ADD]


def test_a_tool_scope_reaches_mcp_and_needs_no_manifest_scope() -> None:
    scopes = frozenset({tool_scope("time.convert_time")})
    assert reaches_mcp(scopes)
    assert token_allows(CONVERT, scopes)


def test_no_tool_scope_allows_nothing() -> None:
    assert effective_tools([ADD, STATS, CONVERT], frozenset({"api"})) == []
