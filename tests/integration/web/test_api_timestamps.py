"""Every timestamp the API answers carries its UTC offset, on SQLite as on PostgreSQL: SQLite
hands stored ones back without it, and a client reads an offset-less time as its own local
time (the OpenAPI document's `date-time` requires the offset too)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from tests.integration.agents_catalog.conftest import agent_yaml

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    return moment


async def test_stored_timestamps_have_their_offset(client: httpx.AsyncClient) -> None:
    manifest = json.loads((FIXTURES / "manifests" / "time.json").read_text())
    assert (await client.post("/api/v1/servers?discover=false", json=manifest)).status_code == 201
    assert (await client.put("/api/v1/grants/default/time", json={"scopes": ["*"]})).is_success
    version = (await client.get("/api/v1/servers/time/versions/2025.9.25")).json()
    _utc(version["published_at"])
    _utc(version["history"][0]["at"])
    _utc((await client.get("/api/v1/reviews")).json()[0]["published_at"])
    _utc((await client.get("/api/v1/grants")).json()[0]["granted_at"])
    token = (await client.get("/api/v1/me/tokens")).json()[0]
    lifetime = _utc(token["expires_at"]) - _utc(token["created_at"])
    assert abs(lifetime - timedelta(days=1)) < timedelta(seconds=1)

    published = await client.post(
        "/api/v1/agents", content=agent_yaml(), headers={"content-type": "application/yaml"}
    )
    assert published.status_code == 201, published.text
    run = await client.post("/api/v1/agents/greeter/runs", json={"answers": {"who": "Ann"}})
    assert run.status_code == 201, run.text
    _utc((await client.get("/api/v1/runs")).json()[0]["created_at"])
    run_path = f"/api/v1/runs/{run.json()['id']}"
    assert (await client.post(run_path + "/cancel")).is_success  # so its event stream ends
    events = await client.get(run_path + "/events")
    data = [json.loads(line[6:]) for line in events.text.splitlines() if line.startswith("data:")]
    stamps = [_utc(d["at"]) for d in data if "at" in d]
    assert stamps, events.text
