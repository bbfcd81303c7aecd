"""Sign-in forms open in several tabs of one browser all stay valid: opening the page again (or
an MCP client's authorization sending the browser there) must not void the forms already open."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from registry.models import Role
from switchboard.identity.accounts import create_user
from tests.conftest import TEST_PASSWORD
from tests.integration.web.oauth_flow import form_value


async def test_the_first_tabs_form_still_signs_in(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    async with app.state.services.transaction() as session:
        await create_user(session, "gina", role=Role.user, password=TEST_PASSWORD)
    first = form_value((await anonymous.get("/signin")).text, "csrf_token")
    second = form_value((await anonymous.get("/signin?next=/api/v1/me")).text, "csrf_token")
    assert first == second
    wrong = await anonymous.post(
        "/signin", data={"username": "gina", "password": "nope", "csrf_token": second}
    )
    assert wrong.status_code == 401
    signed = await anonymous.post(
        "/signin",
        data={"username": "gina", "password": TEST_PASSWORD, "csrf_token": first, "next": "/x"},
    )
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/x"


async def test_a_cookie_not_made_here_is_replaced(anonymous: httpx.AsyncClient) -> None:
    anonymous.cookies.set("switchboard-csrf", '"><script>alert(1)</script>')
    page = await anonymous.get("/signin")
    token = form_value(page.text, "csrf_token")
    assert "<script>" not in page.text
    assert len(token) == 43
    assert page.cookies["switchboard-csrf"] == token
