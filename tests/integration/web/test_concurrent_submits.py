"""The same form submitted several times at once gets the answers it would get one at a time:
requests racing to insert the same row, or to decide the same review, are neither 500s nor
two contradicting successes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path

import httpx

from tests.integration.agents_catalog.conftest import agent_yaml

FIXTURES = Path(__file__).parents[2] / "fixtures"
TIMES = 6
VERSION = "/api/v1/servers/time/versions/2025.9.25"


async def _at_once(requests: list[Awaitable[httpx.Response]]) -> list[int]:
    responses = await asyncio.gather(*requests)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    return sorted(r.status_code for r in responses)


async def _publish(client: httpx.AsyncClient) -> None:
    manifest = json.loads((FIXTURES / "manifests" / "time.json").read_text())
    assert (await client.post("/api/v1/servers?discover=false", json=manifest)).status_code == 201


async def test_duplicate_creates_at_once(client: httpx.AsyncClient) -> None:
    def team() -> Awaitable[httpx.Response]:
        return client.post("/api/v1/teams", json={"name": "race"})

    assert await _at_once([team() for _ in range(TIMES)]) == [201] + [409] * (TIMES - 1)

    def member() -> Awaitable[httpx.Response]:
        return client.post("/api/v1/teams/race/members", json={"user": "bob"})

    assert await _at_once([member() for _ in range(TIMES)]) == [204] * TIMES

    await _publish(client)

    def grant() -> Awaitable[httpx.Response]:
        return client.put("/api/v1/grants/race/time", json={"scopes": ["*"]})

    assert await _at_once([grant() for _ in range(TIMES)]) == [200] * TIMES

    document = agent_yaml("racer")

    def agent() -> Awaitable[httpx.Response]:
        return client.post(
            "/api/v1/agents", content=document, headers={"content-type": "application/yaml"}
        )

    assert await _at_once([agent() for _ in range(TIMES)]) == [201] * TIMES
    assert [a["name"] for a in (await client.get("/api/v1/agents")).json()] == ["racer"]


async def test_approve_and_reject_at_once(client: httpx.AsyncClient) -> None:
    await _publish(client)
    approve = client.post(VERSION + "/approve", json={})
    reject = client.post(VERSION + "/reject", json={"reason": "egress too wide"})
    answers = await asyncio.gather(approve, reject)
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    winner = next(r.json() for r in answers if r.status_code == 200)
    loser = next(r.json() for r in answers if r.status_code == 409)
    assert "decided by someone else a moment ago" in loser["detail"]
    stored = (await client.get(VERSION)).json()
    assert (stored["status"], stored["live"]) == (winner["status"], winner["live"])
    assert [e["to_status"] for e in stored["history"]] == ["pending", winner["status"]]
