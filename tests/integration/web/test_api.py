from __future__ import annotations

import json
from pathlib import Path

import httpx
from jsonschema import Draft202012Validator
from starlette.applications import Starlette

from registry.models import Role
from tests.conftest import user_with_token

FIXTURES = Path(__file__).parents[2] / "fixtures"
ALICE = {"X-Switchboard-Actor": "alice"}


def manifest() -> dict[str, object]:
    document: dict[str, object] = json.loads((FIXTURES / "manifests" / "time.json").read_text())
    return document


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}
    assert (await client.get("/")).json()["api"] == "/api/v1/openapi.json"


async def test_publish_review_grant_over_the_api(client: httpx.AsyncClient) -> None:
    published = await client.post("/api/v1/servers?discover=false", json=manifest(), headers=ALICE)
    assert published.status_code == 201, published.text
    assert published.json()["status"] == "pending"
    assert published.json()["published_by"] == "alice"

    assert [e["slug"] for e in (await client.get("/api/v1/reviews")).json()] == ["time"]
    version = await client.get("/api/v1/servers/time/versions/2025.9.25")
    assert version.json()["policy"]["memoryMb"] == 128

    approved = await client.post(
        "/api/v1/servers/time/versions/2025.9.25/approve", json={"reason": "ok"}, headers=ALICE
    )
    assert approved.status_code == 200
    assert approved.json()["live"] is True
    again = await client.post("/api/v1/servers/time/versions/2025.9.25/approve", json={})
    assert again.status_code == 409
    assert "it is approved" in again.json()["detail"]

    granted = await client.put(
        "/api/v1/grants/default/time", json={"scopes": ["time:convert"]}, headers=ALICE
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["scopes"] == ["time:convert"]
    assert (await client.get("/api/v1/grants", params={"team": "default"})).json()[0]["slug"] == (
        "time"
    )
    assert (await client.delete("/api/v1/grants/default/time")).status_code == 204
    assert (await client.get("/api/v1/grants")).json() == []

    servers = (await client.get("/api/v1/servers")).json()
    assert servers[0]["versions"] == [{"version": "2025.9.25", "status": "approved", "live": True}]


async def test_invalid_manifest_is_a_problem_with_pointers(client: httpx.AsyncClient) -> None:
    document = manifest()
    document["name"] = "bad"
    document["_meta"] = {"dev.switchboard/policy": {"memory": 5}}
    response = await client.post("/api/v1/servers", json=document)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/name", "/_meta/dev.switchboard~1policy/memory"}
    assert (await client.get("/api/v1/servers")).json() == []


async def test_malformed_json_and_duplicates(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/servers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["errors"][0]["detail"]
    assert (await client.post("/api/v1/servers?discover=false", json=manifest())).status_code == 201
    duplicate = await client.post("/api/v1/servers?discover=false", json=manifest())
    assert duplicate.status_code == 409
    assert "already published" in duplicate.json()["detail"]


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/servers", content=b" " * (6 * 1024 * 1024))
    assert response.status_code == 413


async def test_teams_members_secrets_and_unknowns(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/teams", json={"name": "ops"})).status_code == 201
    assert (await client.post("/api/v1/teams", json={"name": "ops"})).status_code == 409
    assert (await client.post("/api/v1/teams", json={"name": "Bad Name"})).status_code == 400
    assert (await client.get("/api/v1/teams")).json() == ["default", "ops"]
    member = await client.post("/api/v1/teams/ops/members", json={"user": "bob"})
    assert member.status_code == 204
    assert (await client.get("/api/v1/users/bob/tools")).json() == []
    missing = await client.get("/api/v1/servers/nope")
    assert missing.status_code == 404
    assert "server list" in missing.json()["detail"]
    assert (await client.post("/api/v1/teams/nope/members", json={"user": "x"})).status_code == 404


async def test_openapi_document_describes_every_route(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/servers/{server}/versions/{version}/approve" in document["paths"]
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len({op["operationId"] for op in operations}) == len(operations)
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    approve = document["paths"]["/api/v1/servers/{server}/versions/{version}/approve"]["post"]
    assert approve["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VersionReview"
    }


async def test_foreign_hosts_and_strangers_are_refused(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    rebinding = await client.get("/healthz", headers={"host": "evil.example.com"})
    assert rebinding.status_code == 400
    refused = await anonymous.get("/api/v1/servers")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "sign in first" in refused.json()["detail"]
    forged = await anonymous.get("/api/v1/servers", headers={"Authorization": "Bearer sbp_nope"})
    assert forged.status_code == 401


async def test_roles_are_enforced(app: Starlette, anonymous: httpx.AsyncClient) -> None:
    token = await user_with_token(app.state.services, "dana", Role.developer, ["api"])
    as_dana = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get("/api/v1/servers", headers=as_dana)).status_code == 200
    queue = await anonymous.get("/api/v1/reviews", headers=as_dana)
    assert queue.status_code == 403
    assert "needs the security role; dana is a developer" in queue.json()["detail"]
    teams = await anonymous.post("/api/v1/teams", json={"name": "x"}, headers=as_dana)
    assert teams.status_code == 403


async def test_developers_publish_only_for_their_teams(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "dana", Role.developer, ["api"])
    as_dana = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/teams", json={"name": "payments"})).status_code == 201
    foreign = await anonymous.post(
        "/api/v1/servers?discover=false&team=payments", json=manifest(), headers=as_dana
    )
    assert foreign.status_code == 403
    assert "dana is not a member of team 'payments'" in foreign.json()["detail"]
    spec = (FIXTURES / "openapi" / "stripe.yaml").read_text()
    imported = await anonymous.post(
        "/api/v1/openapi-imports",
        json={"name": "com.stripe/api", "document": spec, "team": "payments"},
        headers=as_dana,
    )
    assert imported.status_code == 403
    assert (await client.get("/api/v1/servers")).json() == []
    default = await anonymous.post(
        "/api/v1/servers?discover=false", json=manifest(), headers=as_dana
    )
    assert default.status_code == 201, "the default team takes anyone who may publish"
    assert (
        await client.post("/api/v1/teams/payments/members", json={"user": "dana"})
    ).status_code == 204
    document = manifest() | {"name": "io.github.example/payments-time"}
    joined = await anonymous.post(
        "/api/v1/servers?discover=false&team=payments", json=document, headers=as_dana
    )
    assert joined.status_code == 201, joined.text


async def test_a_token_without_the_api_scope_is_refused(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "erin", Role.admin, ["mcp"])
    refused = await anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert "`api` scope" in refused.json()["detail"]


async def test_openapi_import_over_the_api(client: httpx.AsyncClient) -> None:
    spec = (FIXTURES / "openapi" / "stripe.yaml").read_text()
    created = await client.post(
        "/api/v1/openapi-imports",
        json={"name": "com.stripe/api", "document": spec, "slug": "stripe"},
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["tools"]) == 15
    invalid = await client.post(
        "/api/v1/openapi-imports",
        json={"name": "x", "document": {"openapi": "3.1.0", "info": {"title": "t"}, "paths": {}}},
    )
    assert invalid.status_code == 422
    assert {e["pointer"] for e in invalid.json()["errors"]} >= {"/info/version"}
    assert [s["slug"] for s in (await client.get("/api/v1/servers")).json()] == ["stripe"]
