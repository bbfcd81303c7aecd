"""The access token a run reaches `/mcp` with: the launching user's, for this agent's granted
tools only, short-lived, and named so the toolhost's audit says "agent A on behalf of user U".
"""

from __future__ import annotations

from collections.abc import Iterable

from switchboard.identity.scopes import tool_scope
from switchboard.identity.tokens import AccessTokens

MIN_LIFETIME_SECONDS = 60
MARGIN_SECONDS = 30


def agent_client_id(agent_name: str) -> str:
    """The `client_id` every token of this agent's runs carries (audit's `client`)."""
    return f"agent:{agent_name}"


async def run_token(
    tokens: AccessTokens,
    *,
    audience: str,
    username: str,
    agent_name: str,
    run_id: str,
    tools: Iterable[str],
    seconds_left: float,
) -> str:
    """A token for one stretch of a run, lasting no longer than the run may still take.

    `tools` are the catalogue names (`<slug>.<tool>`) of the agent's tools the user is granted;
    the toolhost intersects them with the user's grants again on every call.
    """
    lifetime = max(MIN_LIFETIME_SECONDS, int(seconds_left) + MARGIN_SECONDS)
    token, _ = await tokens.issue(
        subject=username,
        client_id=agent_client_id(agent_name),
        scopes=sorted(tool_scope(name) for name in tools),
        audience=audience,
        on_behalf_of=username,
        lifetime_seconds=lifetime,
        family=f"run:{run_id}",
    )
    return token
