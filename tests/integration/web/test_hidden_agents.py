"""An agent whose `visibility` leaves a person's teams out is not found for them, whichever
route they try: launching it must not tell them its questions or which teams may use it."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from registry.models import Role
from tests.conftest import user_with_token
from tests.integration.agents_catalog.conftest import agent_yaml


async def test_launching_a_hidden_agent_is_not_found(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    document = agent_yaml("ops-helper", visibility=["ops"])
    published = await client.post(
        "/api/v1/agents", content=document, headers={"content-type": "application/yaml"}
    )
    assert published.status_code == 201, published.text
    token = await user_with_token(app.state.services, "carol", Role.user, ["api"])
    carol = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/agents/ops-helper", headers=carol)).status_code == 404
    for answers in ({}, {"who": "Ann"}):
        launched = await client.post(
            "/api/v1/agents/ops-helper/runs", json={"answers": answers}, headers=carol
        )
        assert launched.status_code == 404, launched.text
        assert launched.json()["detail"].startswith("no agent named 'ops-helper'")
        assert "ops" not in launched.json()["detail"].removeprefix("no agent named 'ops-helper'")
        assert "errors" not in launched.json()
    assert (await client.get("/api/v1/runs", headers=carol)).json() == []
