"""Single sign-on against a small but real OpenID Provider served by uvicorn on 127.0.0.1.

The provider speaks the protocol for real: discovery, an authorization endpoint that approves
at once and redirects back with `code`, `state` and `iss`, a token endpoint that checks the code,
the redirect URI, the PKCE verifier and the client's secret, and a JWKS. Its ID tokens are
ES256 JWTs signed with joserfc; tests change their claims or signing key to provoke refusals.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pydantic import SecretStr
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from registry.models import Membership, Role, Team, User
from registry.teams import ensure_team
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.identity.accounts import create_user, set_disabled
from switchboard.services import Services
from switchboard.settings import Settings
from tests.conftest import TEST_PASSWORD

CLIENT_ID = "switchboard-test"
CLIENT_SECRET = "provider-issued-secret"
CALLBACK = "http://127.0.0.1:8080/signin/sso/callback"
KID = "provider-key-1"


@dataclass(frozen=True)
class Grant:
    redirect_uri: str
    challenge: str
    nonce: str


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def half_hash(access_token: str) -> str:
    """`at_hash` for ES256: the left half of the token's SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class OpenIDProvider:
    """An OpenID Provider with one person, who is always approved."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", {"kid": KID, "use": "sig", "alg": "ES256"})
        self.signer = self.key
        self.issuer = ""
        self.person: dict[str, Any] = {
            "sub": "248289761001",
            "preferred_username": "dana",
            "email": "dana@example.test",
            "name": "Dana Scully",
            "groups": ["research", "no-such-team"],
        }
        self.id_token_changes: dict[str, Any] = {}
        self.deny = False
        self.grants: dict[str, Grant] = {}
        self.issued: list[str] = []
        self.token_requests = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, _: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "scopes_supported": ["openid", "profile", "email", "groups"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        problem = self._authorize_problem(query.get)
        if problem:
            return PlainTextResponse(problem, 400)
        back = {"state": query["state"], "iss": self.issuer}
        if self.deny:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(
                query["redirect_uri"], query["code_challenge"], query["nonce"]
            )
            back["code"] = code
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", 302)

    def _authorize_problem(self, given: Callable[[str], str | None]) -> str | None:
        expected = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "code_challenge_method": "S256",
        }
        for name, value in expected.items():
            if given(name) != value:
                return f"{name} must be {value!r}"
        if "openid" not in (given("scope") or "").split():
            return "scope must include openid"
        if not given("state") or not given("nonce") or not given("code_challenge"):
            return "state, nonce and code_challenge are required"
        return None

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        expected_auth = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected_auth}":
            return JSONResponse({"error": "invalid_client"}, 401)
        async with request.form() as form:
            fields = {name: str(value) for name, value in form.items()}
        grant = self.grants.pop(fields.get("code", ""), None)
        if (
            grant is None
            or fields.get("grant_type") != "authorization_code"
            or fields.get("redirect_uri") != grant.redirect_uri
            or s256(fields.get("code_verifier", "")) != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        access_token = secrets.token_urlsafe(24)
        id_token = self._id_token(grant, access_token)
        self.issued.append(id_token)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store"},
        )

    def _id_token(self, grant: Grant, access_token: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "at_hash": half_hash(access_token),
            **self.person,
            **self.id_token_changes,
        }
        return jwt.encode({"alg": "ES256", "kid": KID}, claims, self.signer)

    async def jwks(self, _: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))


@pytest.fixture
async def provider() -> AsyncIterator[OpenIDProvider]:
    op = OpenIDProvider()
    config = uvicorn.Config(op.app(), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        op.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(200):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()
        assert server.started, "the OpenID Provider did not start"
        try:
            yield op
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
def sso_configured() -> bool:
    return True


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, provider: OpenIDProvider, sso_configured: bool
) -> Settings:
    """The shared settings, pointed at this module's provider unless a test turns SSO off."""
    if not sso_configured:
        return Settings(data_dir=tmp_path / "data", database_url=database_url)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
    )


@pytest.fixture
async def teams(app: Starlette) -> None:
    """`research` is named in the person's groups, `ops` is not; `no-such-team` never exists."""
    services: Services = app.state.services
    async with services.transaction() as session:
        await ensure_team(session, "research")
        await ensure_team(session, "ops")


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, with a cookie jar of its own."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        yield http


async def sso_sign_in(
    http: httpx.AsyncClient,
    *,
    next_path: str = "/after",
    answer_changes: dict[str, str] | None = None,
) -> httpx.Response:
    """Start at Switchboard, visit the provider as the browser would, and bring its answer back
    (with `answer_changes` made to it, as an attacker could)."""
    start = await http.get("/signin/sso", params={"next": next_path})
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient(trust_env=False) as outside:
        answer = await outside.get(start.headers["location"])
    assert answer.status_code == 302, answer.text
    callback = httpx.URL(answer.headers["location"])
    assert str(callback).startswith(CALLBACK)
    if answer_changes:
        callback = callback.copy_merge_params(answer_changes)
    return await http.get(callback)


async def who(http: httpx.AsyncClient) -> str | None:
    response = await http.get("/api/v1/me")
    return str(response.json()["username"]) if response.status_code == 200 else None


async def sign_in_records(services: Services) -> list[AuditRecord]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord)
            .where(AuditRecord.action == "sign_in")
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.all())


async def user_named(services: Services, username: str) -> User | None:
    async with services.sessions() as session:
        return (await session.exec(select(User).where(User.username == username))).first()


async def team_names(services: Services, user: User) -> list[str]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(Team.name)
            .join(Membership, col(Membership.team_id) == Team.id)
            .where(Membership.user_id == user.id)
        )
        return sorted(rows.all())


async def test_first_sign_in_creates_the_user_and_joins_named_teams(
    anonymous: httpx.AsyncClient, app: Starlette, provider: OpenIDProvider, teams: None
) -> None:
    services: Services = app.state.services
    response = await sso_sign_in(anonymous, next_path="/after?x=1")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/after?x=1"
    assert "switchboard-sso" not in anonymous.cookies
    assert await who(anonymous) == "dana"
    user = await user_named(services, "dana")
    assert user is not None
    assert user.external_subject == f"{provider.issuer}|248289761001"
    assert user.role == Role.user
    assert user.password_hash is None
    assert user.display_name == "Dana Scully"
    assert await team_names(services, user) == ["research"]
    async with services.sessions() as session:
        assert (await session.exec(select(Team).where(Team.name == "no-such-team"))).first() is None
    [record] = await sign_in_records(services)
    assert (record.actor, record.outcome) == ("dana", "ok")
    assert record.detail["method"] == "sso"
    assert record.detail["created"] is True
    assert record.detail["teams"] == ["research"]
    assert (await verify(services.sessions))[1] is None


async def test_second_sign_in_reuses_the_account(
    anonymous: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    app: Starlette,
    provider: OpenIDProvider,
    teams: None,
) -> None:
    services: Services = app.state.services
    assert (await sso_sign_in(anonymous)).status_code == 303
    provider.person["preferred_username"] = "dana.scully"
    provider.person["groups"] = "ops"
    assert (await sso_sign_in(browser)).status_code == 303
    assert await who(browser) == "dana"
    async with services.sessions() as session:
        linked = await session.exec(select(User).where(col(User.external_subject).is_not(None)))
        assert [user.username for user in linked.all()] == ["dana"]
    user = await user_named(services, "dana")
    assert user is not None
    assert await team_names(services, user) == ["ops", "research"]
    first, second = await sign_in_records(services)
    assert (first.detail["created"], second.detail["created"]) == (True, False)


async def test_an_existing_user_name_is_never_taken_over(
    anonymous: httpx.AsyncClient, app: Starlette
) -> None:
    services: Services = app.state.services
    async with services.transaction() as session:
        await create_user(session, "dana", role=Role.admin, password=TEST_PASSWORD)
    assert (await sso_sign_in(anonymous)).status_code == 303
    assert await who(anonymous) == "dana-2"
    local = await user_named(services, "dana")
    assert local is not None
    assert local.external_subject is None


async def test_the_user_name_comes_from_the_email_made_valid(
    anonymous: httpx.AsyncClient, provider: OpenIDProvider
) -> None:
    del provider.person["preferred_username"]
    provider.person["email"] = "dana+sb@example.test"
    assert (await sso_sign_in(anonymous)).status_code == 303
    assert await who(anonymous) == "dana-sb@example.test"


async def test_a_forged_state_is_refused(
    anonymous: httpx.AsyncClient, app: Starlette, provider: OpenIDProvider
) -> None:
    response = await sso_sign_in(anonymous, answer_changes={"state": "forged"})
    assert response.status_code == 400
    assert "does not belong to the sign-in this browser started" in response.text
    assert provider.token_requests == 0
    assert await who(anonymous) is None
    assert await user_named(app.state.services, "dana") is None
    [record] = await sign_in_records(app.state.services)
    assert (record.actor, record.outcome, record.detail["method"]) == ("(sso)", "denied", "sso")


async def test_a_callback_is_used_once(
    anonymous: httpx.AsyncClient, browser: httpx.AsyncClient, provider: OpenIDProvider
) -> None:
    start = await anonymous.get("/signin/sso")
    async with httpx.AsyncClient(trust_env=False) as outside:
        answer = await outside.get(start.headers["location"])
    callback = answer.headers["location"]
    assert (await anonymous.get(callback)).status_code == 303
    again = await anonymous.get(callback)
    assert again.status_code == 400
    assert "expired" in again.text
    elsewhere = await browser.get(callback)
    assert elsewhere.status_code == 400
    assert provider.token_requests == 1


def expired(provider: OpenIDProvider) -> None:
    provider.id_token_changes = {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}


def impostor(provider: OpenIDProvider) -> None:
    """Signed with another key that claims the provider's key ID."""
    provider.signer = ECKey.generate_key("P-256", {"kid": KID, "use": "sig", "alg": "ES256"})


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda p: p.id_token_changes.update(aud="another-client"), "meant for another client"),
        (lambda p: p.id_token_changes.update(nonce="another-nonce"), "belongs to another sign-in"),
        (lambda p: p.id_token_changes.update(iss="https://evil.example"), "another issuer"),
        (expired, "has expired"),
        (impostor, "not signed by any of its published keys"),
    ],
    ids=["audience", "nonce", "issuer", "expired", "signature"],
)
async def test_a_bad_id_token_is_refused(
    anonymous: httpx.AsyncClient,
    app: Starlette,
    provider: OpenIDProvider,
    tamper: Callable[[OpenIDProvider], None],
    expected: str,
) -> None:
    tamper(provider)
    response = await sso_sign_in(anonymous)
    assert response.status_code == 403
    assert expected in response.text
    [id_token] = provider.issued
    assert id_token not in response.text
    assert id_token.split(".")[1] not in response.text
    assert await who(anonymous) is None
    assert await user_named(app.state.services, "dana") is None
    [record] = await sign_in_records(app.state.services)
    assert record.outcome == "denied"
    assert expected in record.detail["reason"]


async def test_a_disabled_user_is_refused(
    anonymous: httpx.AsyncClient, browser: httpx.AsyncClient, app: Starlette
) -> None:
    services: Services = app.state.services
    assert (await sso_sign_in(anonymous)).status_code == 303
    async with services.transaction() as session:
        await set_disabled(session, "dana", True)
    response = await sso_sign_in(browser)
    assert response.status_code == 403
    assert "disabled" in response.text
    assert await who(browser) is None
    records = await sign_in_records(services)
    assert (records[-1].actor, records[-1].outcome) == ("dana", "denied")


async def test_a_provider_refusal_and_a_bad_code_are_shown(
    anonymous: httpx.AsyncClient, provider: OpenIDProvider
) -> None:
    provider.deny = True
    refused = await sso_sign_in(anonymous)
    assert refused.status_code == 403
    assert "access_denied" in refused.text
    provider.deny = False
    bogus = await sso_sign_in(anonymous, answer_changes={"code": "not-a-code"})
    assert bogus.status_code == 502
    assert "refused the authorization code" in bogus.text
    assert "invalid_grant" in bogus.text
    assert await who(anonymous) is None


async def test_next_must_be_a_path_on_this_site(anonymous: httpx.AsyncClient) -> None:
    response = await sso_sign_in(anonymous, next_path="https://evil.example/")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("sso_configured", [False])
async def test_routes_are_absent_without_configuration(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/signin/sso", params={"next": "/"})).status_code == 404
    assert (await anonymous.get("/signin/sso/callback?code=x&state=y")).status_code == 404
    assert "/signin/sso" not in (await anonymous.get("/signin")).text
