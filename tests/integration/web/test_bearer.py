"""`/mcp` refuses every kind of bad token with 401 `invalid_token`, and says nothing more."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette

from registry import grants, review
from registry.lookup import get_server
from registry.models import Role
from registry.teams import ensure_team, ensure_user
from switchboard.identity.accounts import set_disabled
from switchboard.services import Services
from tests.conftest import user_with_token
from tests.integration.registry.conftest import make_tool, publish_tools

MCP = "http://127.0.0.1:8080/mcp"
ISSUER = "http://127.0.0.1:8080"
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
ACCEPT = {"Accept": "application/json, text/event-stream"}


async def forge(services: Services, change: Callable[[dict[str, Any], dict[str, Any]], Any]) -> str:
    """A token signed with the real key, after `change` edits its header and claims."""
    ring = await services.keys.ring()
    now = int(time.time())
    header: dict[str, Any] = {"alg": "ES256", "kid": ring.signing.kid, "typ": "at+jwt"}
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": MCP,
        "client_id": "c",
        "scope": "mcp",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "x",
    }
    other = change(header, claims)
    key = other if isinstance(other, ECKey) else ring.signing
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({**header, 'alg': 'none'})}.{part(claims)}."


async def call(http: httpx.AsyncClient, token: str) -> httpx.Response:
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    return await http.post("/mcp", json=PING, headers=headers)


async def test_a_good_token_passes(app: Starlette, anonymous: httpx.AsyncClient) -> None:
    await user_with_token(app.state.services, "alice", Role.developer, ["mcp"])
    token = await forge(app.state.services, lambda h, c: None)
    response = await call(anonymous, token)
    assert response.status_code != 401, response.text


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda h, c: c.update(exp=int(time.time()) - 120), id="expired"),
        pytest.param(lambda h, c: c.update(nbf=int(time.time()) + 600), id="not-yet-valid"),
        pytest.param(lambda h, c: c.update(aud="http://127.0.0.1:8080/other"), id="wrong-audience"),
        pytest.param(lambda h, c: c.update(iss="https://evil.example"), id="wrong-issuer"),
        pytest.param(lambda h, c: c.pop("sub"), id="no-subject"),
        pytest.param(lambda h, c: c.update(sub="nobody"), id="unknown-user"),
        pytest.param(lambda h, c: h.update(typ="JWT"), id="not-an-access-token"),
        pytest.param(
            lambda h, c: ECKey.generate_key("P-256", parameters={"kid": h["kid"]}),
            id="wrongly-signed",
        ),
    ],
)
async def test_bad_tokens_get_invalid_token(
    app: Starlette, anonymous: httpx.AsyncClient, change: Callable[..., Any]
) -> None:
    await user_with_token(app.state.services, "alice", Role.developer, ["mcp"])
    token = await forge(app.state.services, change)
    response = await call(anonymous, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("a.b.c", id="three-garbage-parts"),
        pytest.param("x" * 10_000, id="huge"),
        pytest.param("sbp_unknown", id="unknown-pat"),
        pytest.param(
            unsigned({"typ": "at+jwt", "kid": "k"}, {"iss": ISSUER, "aud": MCP, "sub": "alice"}),
            id="alg-none",
        ),
    ],
)
async def test_malformed_tokens_get_401(anonymous: httpx.AsyncClient, token: str) -> None:
    response = await call(anonymous, token)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_a_token_without_mcp_scopes_gets_insufficient_scope(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "carol", Role.user, ["api"])
    response = await call(anonymous, token)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp"' in challenge


async def test_revoked_and_disabled_credentials_stop_at_once(
    app: Starlette, anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    services = app.state.services
    token = await user_with_token(services, "dave", Role.developer, ["mcp", "api"])
    as_dave = {"Authorization": f"Bearer {token}"}
    assert (await call(anonymous, token)).status_code != 401
    (mine,) = (await anonymous.get("/api/v1/me/tokens", headers=as_dave)).json()
    revoked = await anonymous.delete(f"/api/v1/me/tokens/{mine['id']}", headers=as_dave)
    assert revoked.status_code == 204
    assert (await call(anonymous, token)).status_code == 401

    other = await user_with_token(services, "erin", Role.developer, ["mcp"])
    async with services.transaction() as session:
        await set_disabled(session, "erin", True)
    assert (await call(anonymous, other)).status_code == 401


async def test_tokens_are_limited_to_what_their_creator_holds(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "fay", Role.developer, ["api"])
    as_fay = {"Authorization": f"Bearer {token}"}
    beyond = await anonymous.post(
        "/api/v1/me/tokens", json={"name": "ci", "scopes": ["mcp"]}, headers=as_fay
    )
    assert beyond.status_code == 400
    assert "you cannot give a token mcp" in beyond.json()["detail"]
    made = await anonymous.post(
        "/api/v1/me/tokens", json={"name": "ci", "scopes": ["api"]}, headers=as_fay
    )
    assert made.status_code == 201
    assert made.json()["token"].startswith("sbp_")
    listed = (await anonymous.get("/api/v1/me/tokens", headers=as_fay)).json()
    assert all("token" not in row for row in listed)
    assert [row["name"] for row in listed] == ["tests", "ci"]


async def test_calling_a_granted_tool_beyond_the_token_gets_403_naming_its_scope(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    """The team is granted `api.list` (it needs `read`); the token carries another scope."""
    services: Services = app.state.services
    async with services.transaction() as session:
        team = await ensure_team(session, services.settings.default_team)
        actor = await ensure_user(session, "reviewer")
    await publish_tools(services, team, actor, [make_tool("list", "lists", "read")])
    async with services.transaction() as session:
        await review.approve(session, "api", actor=actor)
        await grants.grant(session, team, await get_server(session, "api"), ["*"], actor=actor)
    token = await user_with_token(services, "erin", Role.developer, ["tools:other"])
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "api.list"}}
    plain = json.dumps(body)
    escaped = plain.replace("tools/call", "tools\\/call")
    for content in (plain, escaped):
        response = await anonymous.post(
            "/mcp", content=content, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 403, content
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="read"' in challenge


async def test_a_foreign_origin_is_refused_before_any_token_is_looked_at(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    """The transport spec: an invalid `Origin` gets 403, whatever the credentials."""
    for origin in ("https://evil.example", "null"):
        response = await anonymous.post("/mcp", json=PING, headers={**ACCEPT, "Origin": origin})
        assert response.status_code == 403
        assert "WWW-Authenticate" not in response.headers
        assert repr(origin) in response.json()["error"]
    same_site = await anonymous.post(
        "/mcp", json=PING, headers={**ACCEPT, "Origin": "http://LOCALHOST:3000"}
    )
    assert same_site.status_code == 401, "loopback pages pass on to authentication"


async def test_an_oversized_body_gets_413(app: Starlette, anonymous: httpx.AsyncClient) -> None:
    token = await user_with_token(app.state.services, "fay", Role.developer, ["mcp"])
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    limit = app.state.services.settings.max_request_bytes
    padded = {**PING, "params": {"_meta": {"pad": "x" * (limit + 1)}}}
    response = await anonymous.post("/mcp", json=padded, headers=headers)
    assert response.status_code == 413
    assert str(limit) in response.json()["error"]
