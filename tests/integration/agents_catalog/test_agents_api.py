"""`/api/v1/agents`: publishing (roles, scopes, problems) and each caller's catalogue, with
why an agent cannot be launched, against the bundled examples in known review states."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from registry.models import Role
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.services import Services
from tests.conftest import user_with_token
from tests.integration.agents_catalog.conftest import (
    agent,
    agent_data,
    agent_yaml,
    approve,
    example_world,
    publish_documents,
)

AGENTS = "/api/v1/agents"


def as_user(app: Starlette, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8080",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
async def developer(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    token = await user_with_token(app.state.services, "dev", Role.developer, ["api"])
    async with as_user(app, token) as http:
        yield http


@pytest.fixture
async def user(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    token = await user_with_token(app.state.services, "uma", Role.user, ["api"])
    async with as_user(app, token) as http:
        yield http


def errors(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {e["pointer"]: e["detail"] for e in response.json()["errors"]}


async def test_publish_yaml_then_json_idempotently(developer: httpx.AsyncClient) -> None:
    first = await developer.post(AGENTS, content=agent_yaml())
    assert first.status_code == 201, first.text
    assert first.json() == {
        "name": "greeter",
        "version": "1.0.0",
        "digest": agent().digest,
        "created": True,
    }
    again = await developer.post(AGENTS, content=json.dumps(agent_data()))
    assert again.status_code == 201
    assert again.json()["created"] is False


async def test_changed_document_needs_a_new_version(developer: httpx.AsyncClient) -> None:
    await developer.post(AGENTS, content=agent_yaml())
    changed = await developer.post(AGENTS, content=agent_yaml(summary="Changed."))
    assert changed.status_code == 409
    assert "bump `switchboard.version`" in changed.json()["detail"]
    bumped = await developer.post(AGENTS, content=agent_yaml(summary="Changed.", version="1.0.1"))
    assert bumped.status_code == 201
    shown = (await developer.get(f"{AGENTS}/greeter")).json()
    assert [v["version"] for v in shown["versions"]] == ["1.0.1", "1.0.0"]
    assert shown["versions"][0]["published_by"] == "dev"
    older = (await developer.get(f"{AGENTS}/greeter", params={"version": "1.0.0"})).json()
    assert older["summary"] == "Says hello."


async def test_a_withdrawn_version_is_no_longer_the_one_launched(
    app: Starlette, developer: httpx.AsyncClient, user: httpx.AsyncClient
) -> None:
    await developer.post(AGENTS, content=agent_yaml())
    await developer.post(AGENTS, content=agent_yaml(summary="Newer.", version="1.0.1"))
    withdraw = f"{AGENTS}/greeter/versions/1.0.1/withdraw"
    refused = await user.post(withdraw, json={"reason": "x"})
    assert refused.status_code == 403, "withdrawing takes the developer role"
    done = await developer.post(withdraw, json={"reason": "says the wrong thing"})
    assert done.status_code == 200, done.text
    assert done.json() == {"name": "greeter", "version": "1.0.1", "withdrawn": True}
    assert (await developer.post(withdraw, json={})).status_code == 200, "again: a no-op"
    shown = (await developer.get(f"{AGENTS}/greeter")).json()
    assert shown["version"] == "1.0.0"
    assert shown["summary"] == "Says hello."
    missing = await developer.post(f"{AGENTS}/greeter/versions/9.9.9/withdraw", json={})
    assert missing.status_code == 404
    services: Services = app.state.services
    async with services.sessions() as session:
        records = list(
            await session.exec(select(AuditRecord).where(AuditRecord.action == "agent.withdraw"))
        )
    assert [(r.actor, r.target) for r in records] == [("dev", "greeter@1.0.1")]
    assert records[0].detail == {"reason": "says the wrong thing"}
    spec = (await developer.get("/api/v1/openapi.json")).json()
    publish = spec["paths"][AGENTS]["post"]["requestBody"]["content"]
    assert set(publish) == {"application/yaml", "application/json"}


async def test_only_a_teams_members_publish_and_withdraw_for_it(
    app: Starlette, client: httpx.AsyncClient, developer: httpx.AsyncClient
) -> None:
    assert (await client.post("/api/v1/teams", json={"name": "ops"})).status_code == 201
    refused = await developer.post(AGENTS, params={"team": "ops"}, content=agent_yaml())
    assert refused.status_code == 403
    assert "dev is not a member of team 'ops'" in refused.json()["detail"]
    assert "switchboard team add ops dev" in refused.json()["detail"]
    owned = await client.post(AGENTS, params={"team": "ops"}, content=agent_yaml())
    assert owned.status_code == 201, "an admin publishes for any team"
    withdraw = f"{AGENTS}/greeter/versions/1.0.0/withdraw"
    assert (await developer.post(withdraw, json={})).status_code == 403
    assert (await developer.get(f"{AGENTS}/greeter")).json()["version"] == "1.0.0"
    member = await client.post("/api/v1/teams/ops/members", json={"user": "dev"})
    assert member.status_code == 204
    assert (await developer.post(withdraw, json={})).status_code == 200
    missing = await developer.post(f"{AGENTS}/nobody/versions/1.0.0/withdraw", json={})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        (agent_yaml() + "model: openai:gpt-4o\n", "/model", "switchboard.model"),
        (agent_yaml(prompt="Greet {whom}"), "/switchboard", "uses whom"),
        (
            agent_yaml(questions=[{"key": "k", "label": "K", "type": "select"}]),
            "/switchboard/questions/0",
            "options",
        ),
        ("- not a mapping\n", "/", "YAML mapping"),
        ("name: [\n", "/", "not valid YAML"),
        (b"\xff\xfe", "/", "UTF-8"),
        ("name: a\x00b\n", "/", "NUL"),
        ("[" * 100_000, "/", "nested deeper than 64 levels"),
    ],
)
async def test_invalid_documents_are_422_with_problems(
    developer: httpx.AsyncClient, body: str | bytes, pointer: str, message: str
) -> None:
    response = await developer.post(AGENTS, content=body)
    assert response.status_code == 422, response.text
    assert message in errors(response)[pointer]


async def test_roles_and_scopes(app: Starlette, user: httpx.AsyncClient) -> None:
    refused = await user.post(AGENTS, content=agent_yaml())
    assert refused.status_code == 403
    assert "developer role" in refused.json()["detail"]
    services: Services = app.state.services
    mcp_only = await user_with_token(services, "mo", Role.admin, ["mcp"])
    async with as_user(app, mcp_only) as http:
        response = await http.post(AGENTS, content=agent_yaml())
        assert response.status_code == 403
        assert "`api` scope" in response.json()["detail"]
        assert (await http.get(AGENTS)).status_code == 403
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
    ) as anonymous:
        response = await anonymous.post(AGENTS, content=agent_yaml())
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert (await anonymous.get(AGENTS)).status_code == 401


async def test_publish_is_audited_in_the_chain(app: Starlette, client: httpx.AsyncClient) -> None:
    assert (await client.post(AGENTS, content=agent_yaml())).status_code == 201
    assert (await client.post(AGENTS, content=agent_yaml())).status_code == 201
    assert (await client.post(AGENTS, content=agent_yaml(summary="x"))).status_code == 409
    services: Services = app.state.services
    async with services.sessions() as session:
        records = list(
            await session.exec(select(AuditRecord).where(AuditRecord.action == "agent.publish"))
        )
    assert [(r.actor, r.target, r.outcome) for r in records] == [("alice", "greeter@1.0.0", "ok")]
    _, broken = await verify(services.sessions)
    assert broken is None


def cards(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {card["name"]: card for card in response.json()}


async def test_catalogue_says_who_may_launch_what_and_why_not(
    app: Starlette,
    user: httpx.AsyncClient,
    developer: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    admin = client
    services: Services = app.state.services
    await example_world(services)
    await publish_documents(
        services,
        [
            agent("fancy", model="gpt-fancy", tools=["clock.current_time"]),
            agent("ops-only", visibility=["ops"], tools=["clock"]),
            agent("typo", tools=["clock.current_tim"]),
            agent("weather", tools=["weather.forecast"]),
        ],
    )
    seen = cards(await user.get(AGENTS))
    assert "ops-only" not in seen
    assert seen["meeting-time"]["launchable"] is True
    assert seen["meeting-time"]["reasons"] == []
    assert {t["name"]: t["needs_approval"] for t in seen["meeting-time"]["tools"]} == {
        "clock.convert_time": False,
        "clock.find_timezones": False,
    }
    (grant,) = seen["deadline-planner"]["reasons"]
    assert grant.startswith("missing tool grant: you may not call `calculator.evaluate`")
    (quarantined,) = seen["package-check"]["reasons"]
    assert "server `pypi-info` is quarantined" in quarantined
    (pending,) = seen["task-capture"]["reasons"]
    assert "server `tasks` is not approved (its newest version is pending)" in pending
    assert "`tasks.listTasks`, `tasks.createTask`" in pending
    (model,) = seen["fancy"]["reasons"]
    assert model.startswith("no model: the alias `gpt-fancy`")
    (typo,) = seen["typo"]["reasons"]
    assert typo.startswith("no tool `clock.current_tim` in the catalogue")
    (unknown,) = seen["weather"]["reasons"]
    assert unknown.startswith("no server `weather` in the catalogue")
    assert all(card["summary"] and card["title"] and card["icon"] for card in seen.values())

    fancy = {"deployments": [{"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "K"}]}
    stored = await admin.put("/api/v1/models/config", json={"aliases": {"gpt-fancy": fancy}})
    assert stored.status_code == 200, stored.text
    assert cards(await user.get(AGENTS))["fancy"]["launchable"] is True

    hidden = await user.get(f"{AGENTS}/ops-only")
    assert hidden.status_code == 404
    ops_only = cards(await developer.get(AGENTS))["ops-only"]
    assert ops_only["reasons"][0].startswith("not visible to your teams: only ops")
    assert len(ops_only["tools"]) == 5  # the whole clock server


async def test_one_agent_in_full_with_the_tools_needing_approval(
    app: Starlette, user: httpx.AsyncClient
) -> None:
    services: Services = app.state.services
    await example_world(services)
    await approve(services, "tasks", grant_to=services.settings.default_team)
    shown = (await user.get(f"{AGENTS}/task-capture")).json()
    assert shown["launchable"] is True, shown["reasons"]
    tools = {t["name"]: t for t in shown["tools"]}
    assert tools["tasks.listTasks"]["needs_approval"] is False
    assert tools["tasks.listTasks"]["read_only"] is True
    assert tools["tasks.createTask"]["needs_approval"] is True
    assert tools["tasks.createTask"]["granted"] is True
    assert [q["key"] for q in shown["questions"]] == ["title", "due_date", "tags", "details"]
    assert shown["questions"][1]["type"] == "date"
    assert shown["document"]["name"] == "task-capture"
    assert shown["model"] == "default"
    assert shown["limits"]["tool_calls"] == 4
    assert shown["owner"] == "default"
    assert (await user.get(f"{AGENTS}/nobody")).status_code == 404
    missing = await user.get(f"{AGENTS}/task-capture", params={"version": "9.0.0"})
    assert missing.status_code == 404
