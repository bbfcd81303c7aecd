"""The scope vocabulary and a caller's effective scopes.

A token carries scopes; the caller's teams are granted scopes per server. What a request may
use is the intersection, recomputed on every request from the current grants, so a revoked
grant takes effect at once. The vocabulary:

- `mcp`: the MCP endpoint, with every tool the caller's teams are granted;
- `api`: the JSON API, with what the caller's role allows;
- `metrics`: `/metrics` and nothing else, for scrapers; only `security` and `admin` users hold it;
- `tools:<server-slug>`: every granted tool of one server (the server-wide scope);
- `tool:<server-slug>.<tool>`: one granted tool (what an agent run's token carries);
- any other name: a tool scope from a manifest's `toolScopes` (such as `time:convert`),
  covering the granted tools that require only scopes the token carries.
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.models import Role
from registry.visibility import IndexedTool

MCP = "mcp"
API = "api"
METRICS = "metrics"
SERVER_PREFIX = "tools:"
TOOL_PREFIX = "tool:"
BASE_SCOPES = (MCP, API)
NOT_TOOL_SCOPES = frozenset({MCP, API, METRICS})
METRICS_ROLES = frozenset({Role.security, Role.admin})


def server_scope(slug: str) -> str:
    return f"{SERVER_PREFIX}{slug}"


def tool_scope(name: str) -> str:
    """The scope for one tool, by its catalogue name `<server-slug>.<tool>`."""
    return f"{TOOL_PREFIX}{name}"


def slug_of(tool: IndexedTool) -> str:
    return tool.name.partition(".")[0]


def parse_scope(text: str | None) -> list[str]:
    """An OAuth `scope` parameter: space-separated, duplicates dropped, order kept."""
    return list(dict.fromkeys((text or "").split()))


def token_allows(tool: IndexedTool, token_scopes: frozenset[str]) -> bool:
    if MCP in token_scopes or server_scope(slug_of(tool)) in token_scopes:
        return True
    if tool_scope(tool.name) in token_scopes:
        return True
    return bool(tool.scopes) and tool.scopes <= token_scopes


def required_scope(tool: IndexedTool) -> str:
    """What to ask for in `WWW-Authenticate` when a token does not cover `tool`."""
    return " ".join(sorted(tool.scopes)) if tool.scopes else server_scope(slug_of(tool))


def effective_tools(
    granted: Iterable[IndexedTool], token_scopes: frozenset[str]
) -> list[IndexedTool]:
    """The granted tools this token may use: grants intersected with the token's scopes."""
    return [tool for tool in granted if token_allows(tool, token_scopes)]


def reaches_mcp(token_scopes: frozenset[str]) -> bool:
    """Whether a token carries any scope that could cover a tool at all."""
    return bool(token_scopes - {API, METRICS})


def grantable(granted: Iterable[IndexedTool], role: Role) -> set[str]:
    """Every scope a person could put on a token, given their role and the tools their teams
    are granted."""
    scopes = set(BASE_SCOPES)
    if role in METRICS_ROLES:
        scopes.add(METRICS)
    for tool in granted:
        scopes.add(server_scope(slug_of(tool)))
        scopes |= tool.scopes
    return scopes


def within_credential(allowed: set[str], held: frozenset[str], signed_in: bool) -> set[str]:
    """What a new token may carry: a token can only hand on what its creator's credential has.

    A browser session holds everything its user is granted; `mcp` implies every tool scope, and
    `api` implies `metrics` (a security or admin user's `api` token can scrape already).
    """
    if signed_in:
        return allowed
    implied = {s for s in allowed if s not in NOT_TOOL_SCOPES} if MCP in held else set()
    if API in held:
        implied.add(METRICS)
    return allowed & (set(held) | implied)
