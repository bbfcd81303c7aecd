"""Admin actions are audited in the transaction that makes them, whichever interface is used."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select
from starlette.applications import Starlette

from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify
from switchboard.services import Services
from tests.audit_tampering import allow_appends, refuse_appends

ROOT = Path(__file__).parents[3]


async def test_publish_review_grant_revoke_and_secrets_are_audited(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    manifest = json.loads((ROOT / "examples" / "clock" / "server.json").read_text())
    package = manifest["packages"][0]
    package["environmentVariables"] = [{"name": "API_KEY", "isSecret": True}]
    published = await client.post("/api/v1/servers?discover=false", json=manifest)
    assert published.status_code == 201, published.text
    slug, version = published.json()["slug"], manifest["version"]
    base = f"/api/v1/servers/{slug}"
    assert (await client.put(f"{base}/secrets/API_KEY", json={"value": "s3cret"})).is_success
    approved = await client.post(f"{base}/versions/{version}/approve", json={"reason": "ok"})
    assert approved.status_code == 200, approved.text
    assert (await client.put(f"/api/v1/grants/default/{slug}", json={"scopes": ["*"]})).is_success
    assert (await client.delete(f"/api/v1/grants/default/{slug}")).is_success

    services: Services = app.state.services
    async with services.sessions() as session:
        records = list(
            await session.exec(
                select(AuditRecord)
                .where(col(AuditRecord.action).not_in(["token_create"]))
                .order_by(col(AuditRecord.seq))
            )
        )
    assert [(r.actor, r.action, r.target) for r in records] == [
        ("switchboard", "team.member.add", "default/alice"),  # the `client` fixture's
        ("alice", "server.publish", f"{manifest['name']}@{version}"),
        ("alice", "secret.set", f"{slug}/API_KEY"),
        ("alice", "version.approve", f"{manifest['name']}@{version}"),
        ("alice", "grant.set", f"default/{slug}"),
        ("alice", "grant.revoke", f"default/{slug}"),
    ]
    assert all("s3cret" not in json.dumps(r.detail) for r in records)
    _, broken = await verify(services.sessions)
    assert broken is None


async def test_a_failed_change_leaves_no_record(app: Starlette, client: httpx.AsyncClient) -> None:
    refused = await client.put("/api/v1/grants/default/nope", json={"scopes": ["*"]})
    assert refused.status_code == 404
    services: Services = app.state.services
    async with services.sessions() as session:
        actions = {r.action for r in await session.exec(select(AuditRecord))}
    assert "grant.set" not in actions


async def test_token_changes_fail_when_their_record_does(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    services: Services = app.state.services
    made = await client.post("/api/v1/me/tokens", json={"name": "ci", "scopes": ["mcp"]})
    assert made.status_code == 201, made.text
    async with services.engine.begin() as connection:
        await refuse_appends(connection)
    with pytest.raises(DBAPIError, match="appends refused"):
        await client.post("/api/v1/me/tokens", json={"name": "nightly", "scopes": ["mcp"]})
    with pytest.raises(DBAPIError, match="appends refused"):
        await client.delete(f"/api/v1/me/tokens/{made.json()['id']}")
    async with services.engine.begin() as connection:
        await allow_appends(connection)
    tokens = (await client.get("/api/v1/me/tokens")).json()
    assert [(t["name"], t["revoked"]) for t in tokens] == [("tests", False), ("ci", False)]


async def test_team_changes_are_audited(app: Starlette, client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/teams", json={"name": "ops"})).status_code == 201
    for _ in range(2):
        added = await client.post("/api/v1/teams/ops/members", json={"user": "bob"})
        assert added.status_code == 204
    services: Services = app.state.services
    async with services.sessions() as session:
        records = await session.exec(
            select(AuditRecord)
            .where(col(AuditRecord.action).startswith("team."))
            .order_by(col(AuditRecord.seq))
        )
        assert [(r.actor, r.action, r.target) for r in records] == [
            ("switchboard", "team.member.add", "default/alice"),
            ("alice", "team.create", "ops"),
            ("alice", "team.member.add", "ops/bob"),
        ]
