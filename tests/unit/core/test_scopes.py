"""The `metrics` scope: held only by security and admin users, handed on only by what implies it,
and no way into `/mcp`."""

from __future__ import annotations

import pytest

from registry.models import Role
from registry.visibility import IndexedTool
from switchboard.identity.scopes import grantable, reaches_mcp, within_credential

TIME = IndexedTool(1, 1, "time.convert_time", frozenset({"time:convert"}), {})


@pytest.mark.parametrize(
    ("role", "holds"),
    [(Role.user, False), (Role.developer, False), (Role.security, True), (Role.admin, True)],
)
def test_only_security_and_admin_users_may_hold_metrics(role: Role, holds: bool) -> None:
    allowed = grantable([TIME], role)
    assert ("metrics" in allowed) is holds
    assert {"mcp", "api", "tools:time", "time:convert"} <= allowed


def test_a_token_hands_on_metrics_only_from_metrics_or_api() -> None:
    allowed = grantable([TIME], Role.admin)
    assert "metrics" not in within_credential(allowed, frozenset({"mcp"}), signed_in=False)
    assert "metrics" in within_credential(allowed, frozenset({"api"}), signed_in=False)
    assert "metrics" in within_credential(allowed, frozenset({"metrics"}), signed_in=False)
    assert "metrics" in within_credential(allowed, frozenset(), signed_in=True)
    from_mcp = within_credential(allowed, frozenset({"mcp"}), signed_in=False)
    assert from_mcp == {"mcp", "tools:time", "time:convert"}


def test_a_metrics_token_does_not_reach_mcp() -> None:
    assert not reaches_mcp(frozenset({"metrics"}))
    assert not reaches_mcp(frozenset({"metrics", "api"}))
    assert reaches_mcp(frozenset({"metrics", "mcp"}))
