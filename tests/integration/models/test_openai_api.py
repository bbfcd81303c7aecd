"""`/v1` with Switchboard tokens: the OpenAI client and raw HTTP, budgets, audit."""

from __future__ import annotations

import json
from typing import Any

import httpx
from openai import AsyncOpenAI
from sqlmodel import col, select
from starlette.applications import Starlette

from agents.models.layer import ModelLayer
from registry.models import Role
from switchboard.audit.models import AuditRecord
from tests.conftest import user_with_token
from tests.integration.models.conftest import openai

BASE = "http://127.0.0.1:8080"


async def setup(app: Starlette, provider_url: str, **knobs: Any) -> tuple[ModelLayer, str]:
    layer: ModelLayer = app.state.models
    document = {"aliases": {"smart": {"deployments": [openai(provider_url, "ok")]}}, **knobs}
    await layer.store.replace(document, "tests")
    token = await user_with_token(app.state.services, "dora", Role.user, ["api"], teams=("lab",))
    return layer, token


def http(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


async def audit_records(app: Starlette) -> list[AuditRecord]:
    async with app.state.services.sessions() as session:
        query = select(AuditRecord).where(AuditRecord.action == "model.completion")
        return list((await session.exec(query.order_by(col(AuditRecord.seq)))).all())


async def test_openai_client_completes_and_streams(
    app: Starlette, provider_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-123")
    _, token = await setup(app, provider_url)
    async with http(app) as transport_client:
        client = AsyncOpenAI(
            base_url=f"{BASE}/v1", api_key=token, http_client=transport_client, max_retries=0
        )
        models = await client.models.list()
        assert [m.id for m in models.data] == ["default", "smart"]
        answer = await client.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "secret prompt"}]
        )
        assert answer.choices[0].message.content == "hello from ok"
        assert answer.usage is not None
        assert answer.usage.total_tokens == 15
        stream = await client.chat.completions.create(
            model="smart",
            messages=[{"role": "user", "content": "secret prompt"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
    assert text == "hello from stream"
    assert parts[-1].usage is not None
    assert parts[-1].usage.prompt_tokens == 10
    records = await audit_records(app)
    assert [(r.actor, r.target, r.outcome) for r in records] == [("dora", "smart", "ok")] * 2
    assert records[0].detail == {
        "alias": "smart",
        "team": "lab",
        "deployment": "ok",
        "cost": 0.00002,
        "input_tokens": 10,
        "output_tokens": 5,
    }
    assert "secret prompt" not in json.dumps([r.detail for r in records])


async def test_tokens_are_required(app: Starlette, provider_url: str) -> None:
    await setup(app, provider_url)
    async with http(app) as anonymous:
        refused = await anonymous.post("/v1/chat/completions", json={"model": "smart"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["error"]["code"] == "invalid_api_key"
    async with http(app, "sbp_not-a-real-token") as forged:
        assert (await forged.get("/v1/models")).status_code == 401
    mcp_only = await user_with_token(app.state.services, "eve", Role.user, ["mcp"])
    async with http(app, mcp_only) as narrow:
        refused = await narrow.get("/v1/models")
        assert refused.status_code == 403
        assert "`api` scope" in refused.json()["error"]["message"]


async def test_budget_exceeded_is_a_clear_429(
    app: Starlette, provider_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-123")
    _, token = await setup(app, provider_url, teams={"lab": {"budget": 0.00001, "rpm": 100}})
    body = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}
    async with http(app, token) as client:
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        refused = await client.post("/v1/chat/completions", json=body)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "budget_exceeded"
        assert "team `lab` has spent" in error["message"]
        assert "raise `teams.lab.budget`" in error["message"]
        unknown = await client.post("/v1/chat/completions", json={**body, "model": "nope"})
        assert unknown.status_code == 404
        wrong_team = await client.post(
            "/v1/chat/completions", json=body, headers={"X-Switchboard-Team": "ops"}
        )
        assert wrong_team.status_code == 403
    outcomes = [(r.outcome, r.detail.get("error")) for r in await audit_records(app)]
    assert outcomes == [
        ("ok", None),
        ("denied", "budget_exceeded"),
        ("error", "model_not_found"),
        ("error", "forbidden_team"),
    ]


async def test_admin_api_edits_the_model_file(app: Starlette, client: httpx.AsyncClient) -> None:
    bad = {"aliases": {"x": {"deployments": [{"provider": "openai-compatible", "model": "m"}]}}}
    refused = await client.put("/api/v1/models/config", json=bad)
    assert refused.status_code == 422
    (problem,) = refused.json()["errors"]
    assert problem["pointer"] == "/aliases/x/deployments/0"
    assert "`base_url` is required" in problem["detail"]
    good = {
        "aliases": {
            "x": {
                "deployments": [
                    {"provider": "openai", "model": "gpt-x", "api_key_secret": "openai"}
                ]
            }
        }
    }
    stored = await client.put("/api/v1/models/config", json=good)
    assert stored.status_code == 200
    assert stored.json()["source"] == "api"
    assert set(stored.json()["config"]["aliases"]) == {"x", "default"}
    assert (
        await client.put("/api/v1/models/secrets/openai", json={"value": "sk-1"})
    ).status_code == 204
    assert (await client.get("/api/v1/models/secrets")).json() == ["openai"]
    assert app.state.models.store.secret("openai") == "sk-1"
    reset = await client.delete("/api/v1/models/config")
    assert reset.json()["source"] == "built-in"
    user = await user_with_token(app.state.services, "fay", Role.user, ["api"])
    async with http(app, user) as plain:
        assert (await plain.get("/api/v1/models/config")).status_code == 403
        assert (await plain.get("/api/v1/models/usage?user=fay")).status_code == 200
        assert (await plain.get("/api/v1/models/usage")).status_code == 403
