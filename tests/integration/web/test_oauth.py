"""The authorization server against RFC 6749/7636/7591/7009/8414/8707/9207/9728 and bad input."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select
from starlette.applications import Starlette

from registry.models import Role
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.identity.accounts import create_user
from tests.audit_tampering import allow_appends, refuse_appends
from tests.conftest import TEST_PASSWORD
from tests.integration.web.oauth_flow import (
    MCP_URL,
    REDIRECT_URI,
    authorize,
    authorize_params,
    exchange,
    hidden_fields,
    pkce,
    refresh,
    register,
    sign_in,
)
from tests.integration.web.test_client_metadata import Site


@pytest.fixture
async def bob(app: Starlette) -> str:
    services = app.state.services
    async with services.transaction() as session:
        await create_user(session, "bob", role=Role.developer, password=TEST_PASSWORD)
    return "bob"


async def test_discovery_documents(anonymous: httpx.AsyncClient) -> None:
    server = (await anonymous.get("/.well-known/oauth-authorization-server")).json()
    AuthorizationServerMetadata(server).validate()
    assert server["issuer"] == "http://127.0.0.1:8080"
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["authorization_response_iss_parameter_supported"] is True
    oidc = (await anonymous.get("/.well-known/openid-configuration")).json()
    assert oidc["token_endpoint"] == server["token_endpoint"]
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        resource = (await anonymous.get(path)).json()
        assert resource["resource"] == MCP_URL
        assert resource["authorization_servers"] == ["http://127.0.0.1:8080"]
    keys = (await anonymous.get("/oauth/jwks.json")).json()["keys"]
    assert keys
    assert all("d" not in key for key in keys)


async def test_mcp_without_a_token_points_to_the_metadata(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"' in (
        challenge
    )
    assert 'scope="mcp"' in challenge


async def test_the_code_flow_end_to_end(
    anonymous: httpx.AsyncClient, app: Starlette, bob: str
) -> None:
    http = anonymous
    client_id = await register(http)
    verifier, challenge = pkce()
    params = authorize_params(client_id, challenge)
    first = await http.get("/oauth/authorize", params=params)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/signin?next=%2Foauth%2Fauthorize")
    await sign_in(http, bob)
    consent = await http.get("/oauth/authorize", params=params)
    assert consent.status_code == 200
    assert "Test IDE" in consent.text
    assert REDIRECT_URI in consent.text
    assert "frame-ancestors 'none'" in consent.headers["content-security-policy"]
    fields = hidden_fields(consent.text)
    no_csrf = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert (
        await http.post("/oauth/authorize", data={**no_csrf, "decision": "allow"})
    ).status_code == 403
    allowed = await http.post("/oauth/authorize", data={**fields, "decision": "allow"})
    assert allowed.status_code == 303
    query = parse_qs(urlsplit(allowed.headers["location"]).query)
    assert query["state"] == [params["state"]]
    assert query["iss"] == ["http://127.0.0.1:8080"]

    tokens = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": query["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "resource": MCP_URL,
        },
    )
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "mcp"
    claims = await app.state.services.tokens.verify(body["access_token"], audiences=(MCP_URL,))
    assert claims.subject == "bob"
    assert claims.client_id == client_id

    again = await authorize(http, client_id)  # consent is remembered: straight to the code
    assert again.code

    services = app.state.services
    checked, broken = await verify(services.sessions)
    assert broken is None
    assert checked >= 3


async def test_a_code_works_once_and_its_replay_revokes_the_refresh_chain(
    anonymous: httpx.AsyncClient, bob: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    auth = await authorize(anonymous, client_id)
    first = await exchange(anonymous, client_id, auth)
    assert first.status_code == 200
    replay = await exchange(anonymous, client_id, auth)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    refreshed = await refresh(anonymous, client_id, first.json()["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


async def test_pkce_mismatch_and_wrong_redirect_are_refused(
    anonymous: httpx.AsyncClient, bob: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    auth = await authorize(anonymous, client_id)
    auth.verifier = pkce()[0]
    mismatch = await exchange(anonymous, client_id, auth)
    assert mismatch.json() == {
        "error": "invalid_grant",
        "error_description": "the code_verifier does not match the challenge",
    }
    auth = await authorize(anonymous, client_id)
    wrong = await anonymous.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": auth.code,
            "redirect_uri": "http://127.0.0.1:33418/other",
            "code_verifier": auth.verifier,
        },
    )
    assert wrong.json()["error"] == "invalid_grant"
    other_client = await register(anonymous)
    auth = await authorize(anonymous, client_id)
    stolen = await exchange(anonymous, other_client, auth)
    assert stolen.json()["error"] == "invalid_grant"


async def test_refresh_tokens_rotate_and_reuse_revokes_the_family(
    anonymous: httpx.AsyncClient, bob: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    first = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()

    second = await refresh(anonymous, client_id, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reuse = await refresh(anonymous, client_id, first["refresh_token"])
    assert reuse.json()["error"] == "invalid_grant"
    rotated = await refresh(anonymous, client_id, second.json()["refresh_token"])
    assert rotated.json()["error"] == "invalid_grant"
    widen = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    wider = await refresh(anonymous, client_id, widen["refresh_token"], scope="mcp api")
    assert wider.json()["error"] == "invalid_scope"


async def test_revocation_ends_the_chain(anonymous: httpx.AsyncClient, bob: str) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    tokens = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    unknown = await anonymous.post("/oauth/revoke", data={"token": "nonsense"})
    assert unknown.status_code == 200
    revoked = await anonymous.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "client_id": client_id}
    )
    assert revoked.status_code == 200
    refreshed = await refresh(anonymous, client_id, tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


async def test_registration_refresh_and_revocation_are_audited_without_secrets(
    app: Starlette, anonymous: httpx.AsyncClient, bob: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    first = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    second = (await refresh(anonymous, client_id, first["refresh_token"])).json()
    for _ in range(2):  # the second time, the chain is over already: nothing changes
        await anonymous.post("/oauth/revoke", data={"token": second["access_token"]})
    other = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    await anonymous.post("/oauth/revoke", data={"token": other["refresh_token"]})

    async with app.state.services.sessions() as session:
        records = list(await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq))))
    oauth = [r for r in records if r.action.startswith("oauth_") and r.action != "oauth_authorize"]
    mcp = {"scopes": ["mcp"]}
    assert [(r.actor, r.action, r.client, r.detail) for r in oauth] == [
        (
            "(anonymous)",
            "oauth_register",
            client_id,
            {"address": "127.0.0.1", "client_name": "Test IDE", "redirect_uris": [REDIRECT_URI]},
        ),
        ("bob", "oauth_token", client_id, {"grant": "authorization_code", **mcp}),
        ("bob", "oauth_token", client_id, {"grant": "refresh_token", **mcp}),
        ("bob", "oauth_revoke", client_id, {"token_type": "access_token"}),
        ("bob", "oauth_token", client_id, {"grant": "authorization_code", **mcp}),
        ("bob", "oauth_revoke", client_id, {"token_type": "refresh_token"}),
    ]
    logged = json.dumps([r.model_dump(mode="json") for r in records])
    for tokens in (first, second, other):
        assert tokens["access_token"] not in logged
        assert tokens["refresh_token"] not in logged


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": "https://elsewhere.example/mcp"}, "invalid_target"),
        ({"scope": "mcp <script>"}, "invalid_scope"),
    ],
)
async def test_bad_requests_go_back_to_the_client_with_an_error(
    anonymous: httpx.AsyncClient, bob: str, change: dict[str, str], error: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    params = {**authorize_params(client_id, pkce()[1]), **change}
    response = await anonymous.get("/oauth/authorize", params=params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert query["iss"] == ["http://127.0.0.1:8080"]


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/../evil"},
        {"client_id": "sbc_unknown"},
        {"client_id": ""},
    ],
)
async def test_untrusted_clients_and_redirects_are_never_followed(
    anonymous: httpx.AsyncClient, bob: str, change: dict[str, str]
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    params = {**authorize_params(client_id, pkce()[1]), **change}
    response = await anonymous.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "evil" not in response.text


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://x.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT_URI], "grant_types": ["implicit"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT_URI], "client_name": "x" * 500}, "invalid_client_metadata"),
    ],
)
async def test_registration_refuses_bad_metadata(
    anonymous: httpx.AsyncClient, metadata: dict[str, object], error: str
) -> None:
    response = await anonymous.post("/oauth/register", json=metadata)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_registration_makes_confidential_requests_public(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post(
        "/oauth/register",
        json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_basic"},
    )
    assert response.status_code == 201
    assert response.json()["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in response.json()
    huge = await anonymous.post("/oauth/register", content=b"{" + b" " * 20000 + b"}")
    assert huge.status_code == 413


async def test_a_client_id_metadata_document_client_signs_in(
    anonymous: httpx.AsyncClient, bob: str
) -> None:
    async with Site().running() as site:
        client_id = site.document("/oauth/client.json", client_name="Docs IDE")
        await sign_in(anonymous, bob)
        consent = await anonymous.get(
            "/oauth/authorize", params=authorize_params(client_id, pkce()[1])
        )
        assert consent.status_code == 200
        assert "Docs IDE" in consent.text
        auth = await authorize(anonymous, client_id)
        assert (await exchange(anonymous, client_id, auth)).status_code == 200
        bad = site.document("/bad.json", redirect_uris=["javascript:alert(1)"])
        refused = await anonymous.get("/oauth/authorize", params=authorize_params(bad, "x" * 43))
        assert refused.status_code == 400
        assert "metadata document was refused" in refused.text


async def test_consent_can_be_withdrawn(anonymous: httpx.AsyncClient, bob: str) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    tokens = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    consents = (await anonymous.get("/api/v1/me/consents")).json()
    assert [c["client_id"] for c in consents] == [client_id]
    csrf = (await anonymous.get("/api/v1/me")).json()["csrf_token"]
    without = await anonymous.delete("/api/v1/me/consents", params={"client_id": client_id})
    assert without.status_code == 403
    withdrawn = await anonymous.delete(
        "/api/v1/me/consents", params={"client_id": client_id}, headers={"X-CSRF-Token": csrf}
    )
    assert withdrawn.status_code == 204
    refreshed = await refresh(anonymous, client_id, tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"
    again = await anonymous.get("/oauth/authorize", params=authorize_params(client_id, pkce()[1]))
    assert again.status_code == 200  # the consent page, once more


async def test_consent_stays_when_its_withdrawal_cannot_be_recorded(
    app: Starlette, anonymous: httpx.AsyncClient, bob: str
) -> None:
    client_id = await register(anonymous)
    await sign_in(anonymous, bob)
    tokens = (await exchange(anonymous, client_id, await authorize(anonymous, client_id))).json()
    csrf = (await anonymous.get("/api/v1/me")).json()["csrf_token"]
    async with app.state.services.engine.begin() as connection:
        await refuse_appends(connection)
    with pytest.raises(DBAPIError, match="appends refused"):
        await anonymous.delete(
            "/api/v1/me/consents", params={"client_id": client_id}, headers={"X-CSRF-Token": csrf}
        )
    async with app.state.services.engine.begin() as connection:
        await allow_appends(connection)
    consents = (await anonymous.get("/api/v1/me/consents")).json()
    assert [c["client_id"] for c in consents] == [client_id]
    assert (await refresh(anonymous, client_id, tokens["refresh_token"])).status_code == 200


async def test_key_rotation_keeps_old_tokens_valid(
    anonymous: httpx.AsyncClient, app: Starlette, bob: str
) -> None:
    services = app.state.services
    old, _ = await services.tokens.issue(
        subject="bob", client_id="c", scopes=["mcp"], audience=MCP_URL
    )
    new_kid = await services.keys.rotate()
    new, _ = await services.tokens.issue(
        subject="bob", client_id="c", scopes=["mcp"], audience=MCP_URL
    )
    kids = [key["kid"] for key in (await anonymous.get("/oauth/jwks.json")).json()["keys"]]
    assert kids[0] == new_kid
    assert len(kids) == 2
    for token in (old, new):
        claims = await services.tokens.verify(token, audiences=(MCP_URL,))
        assert claims.subject == "bob"
