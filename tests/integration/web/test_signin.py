"""Web sign-in: cookies, CSRF, lockout, rate limiting, sign-out, and the audit trail."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select
from starlette.applications import Starlette

from registry.models import Role
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.identity.accounts import create_user
from switchboard.services import Services
from tests.audit_tampering import drop_append_only_guards
from tests.conftest import TEST_PASSWORD
from tests.integration.web.oauth_flow import form_value


@pytest.fixture
async def services(app: Starlette) -> Services:
    services: Services = app.state.services
    async with services.transaction() as session:
        await create_user(session, "gina", role=Role.user, password=TEST_PASSWORD)
    return services


async def attempt(
    http: httpx.AsyncClient, password: str, *, next_path: str = "/", username: str = "gina"
) -> httpx.Response:
    page = await http.get("/signin")
    token = form_value(page.text, "csrf_token")
    return await http.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
    )


async def audit_outcomes(services: Services, action: str) -> list[str]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord.outcome)
            .where(AuditRecord.action == action)
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.all())


async def test_sign_in_sets_a_safe_cookie_and_signs_out(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    page = await anonymous.get("/signin")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    signed = await attempt(anonymous, TEST_PASSWORD, next_path="/api/v1/me")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/api/v1/me"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("switchboard="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    me = await anonymous.get("/api/v1/me")
    assert me.json()["username"] == "gina"
    assert me.json()["via"] == "session"
    refused = await anonymous.post("/api/v1/teams", json={"name": "x"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    page = await anonymous.get("/signin", follow_redirects=False)
    assert page.status_code == 303
    out = await anonymous.post("/signout", data={"csrf_token": "wrong"})
    assert out.status_code == 403
    assert await audit_outcomes(services, "sign_in") == ["ok"]


async def test_the_next_parameter_never_leaves_the_site(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = await attempt(anonymous, TEST_PASSWORD, next_path=target)
        assert response.headers["location"] == "/"
        anonymous.cookies.clear()


async def test_a_wrong_password_says_nothing_about_why(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    wrong = await attempt(anonymous, "not the password")
    unknown = await attempt(anonymous, "whatever", username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong user name or password" in wrong.text
    assert "wrong user name or password" in unknown.text
    assert await audit_outcomes(services, "sign_in") == ["denied", "denied"]


async def test_repeated_failures_lock_the_account(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    for _ in range(services.settings.signin_max_failures):
        assert (await attempt(anonymous, "guess")).status_code == 401
    locked = await attempt(anonymous, TEST_PASSWORD)
    assert locked.status_code == 401


async def test_a_form_without_its_csrf_token_is_refused(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    await anonymous.get("/signin")
    forged = await anonymous.post(
        "/signin", data={"username": "gina", "password": TEST_PASSWORD, "csrf_token": "x"}
    )
    assert forged.status_code == 403
    other_site = await anonymous.post(
        "/signin",
        data={"username": "gina", "password": TEST_PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403


async def test_one_address_is_slowed_down(anonymous: httpx.AsyncClient, services: Services) -> None:
    statuses = [(await attempt(anonymous, "x", username=f"u{i}")).status_code for i in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429


async def test_the_audit_chain_detects_tampering(
    anonymous: httpx.AsyncClient, services: Services
) -> None:
    for password in ("bad", TEST_PASSWORD):
        await attempt(anonymous, password)
        anonymous.cookies.clear()
    checked, broken = await verify(services.sessions)
    assert (checked, broken) == (2, None)
    async with services.engine.begin() as connection:
        await drop_append_only_guards(connection)
        await connection.execute(text("UPDATE audit_record SET outcome = 'ok' WHERE seq = 1"))
    checked, broken = await verify(services.sessions)
    assert broken is not None
    assert broken.seq == 1
    assert "altered" in broken.problem
    async with services.engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_record WHERE seq = 1"))
    _, broken = await verify(services.sessions)
    assert broken is not None
    assert "missing" in broken.problem
