"""Query values and fields a person can get wrong are refused with a message naming the fix,
never answered as if they had matched nothing or had worked."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from registry.models import Role
from switchboard.identity.accounts import find_user
from tests.conftest import user_with_token


async def test_unknown_run_status_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/runs", params={"status": "failed"})).json() == []
    response = await client.get("/api/v1/runs", params={"status": "waiting-approval"})
    assert response.status_code == 400
    assert "no run status 'waiting-approval'" in response.json()["detail"]
    assert "waiting_approval" in response.json()["detail"]


async def test_member_name_no_account_can_have_is_refused(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    assert (await client.post("/api/v1/teams", json={"name": "ops"})).status_code == 201
    bad = ("<script>alert(1)</script>", "bob smith", "bob\u202e")
    for name in bad:
        response = await client.post("/api/v1/teams/ops/members", json={"user": name})
        assert response.status_code == 400, response.text
        assert "is invalid: use 1-128 letters" in response.json()["detail"]
    assert (await client.post("/api/v1/teams/ops/members", json={"user": "bob"})).status_code == 204
    async with app.state.services.sessions() as session:
        assert [await find_user(session, name) for name in bad] == [None] * len(bad)


async def test_withdrawing_a_consent_needs_the_client(client: httpx.AsyncClient) -> None:
    for params in ({}, {"client_id": ""}):
        response = await client.delete("/api/v1/me/consents", params=params)
        assert response.status_code == 400, response.text
        assert "name the application: `?client_id=...`" in response.json()["detail"]
    unknown = await client.delete("/api/v1/me/consents", params={"client_id": "nope"})
    assert unknown.status_code == 404


async def test_everyones_runs_need_the_security_role(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "uma", Role.user, ["api"])
    as_uma = {"Authorization": f"Bearer {token}"}
    refused = await anonymous.get("/api/v1/runs?everyone=true", headers=as_uma)
    assert refused.status_code == 403
    assert "everyone's runs are for the security role; uma is a user" in refused.json()["detail"]
    assert (await anonymous.get("/api/v1/runs?everyone=no", headers=as_uma)).json() == []
    assert (await client.get("/api/v1/runs?everyone=true")).json() == []


async def test_yes_or_no_parameters_take_only_yes_or_no(client: httpx.AsyncClient) -> None:
    listing = await client.get("/api/v1/runs?everyone=all")
    publishing = await client.post("/api/v1/servers?discover=maybe", json={"name": "x"})
    for response, name in ((listing, "everyone"), (publishing, "discover")):
        assert response.status_code == 400, response.text
        assert f"`{name}` is" in response.json()["detail"]
        assert "use true or false" in response.json()["detail"]
