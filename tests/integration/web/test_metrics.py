"""`/metrics`: Prometheus text for security and admin tokens carrying `metrics` (or `api`), and
nothing for anyone else; run against both databases."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.applications import Starlette

from registry.models import Role
from switchboard.cli.main import main
from switchboard.identity.accounts import get_user
from switchboard.settings import Settings
from tests.conftest import user_with_token
from toolhost.telemetry import Telemetry

MCP_URL = "http://127.0.0.1:8080/mcp"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    found = [s.value for s in samples(text) if s.name == name and s.labels == labels]
    return found[0] if found else None


def record_calls(app: Starlette) -> None:
    telemetry: Telemetry = app.state.telemetry
    with telemetry.call(
        server="time", tool="convert_time", caller="bob", on_behalf_of=None, client=None
    ) as observation:
        observation.sandbox(started=True)
        observation.outcome("ok")
    with telemetry.call(
        server="time", tool="convert_time", caller="bob", on_behalf_of=None, client=None
    ) as observation:
        observation.outcome("error", "SandboxTimeoutError")


async def test_no_token_is_challenged_and_a_bad_one_refused(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="switchboard", scope="metrics"'
    assert "--scope metrics" in response.json()["detail"]
    assert "switchboard_" not in response.text

    forged = await anonymous.get("/metrics", headers=bearer("sbp_not-a-real-token"))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]


async def test_other_users_and_other_scopes_are_forbidden(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    services = app.state.services
    user = await user_with_token(services, "carol", Role.user, ["api", "mcp"])
    developer = await user_with_token(services, "dave", Role.developer, ["api"])
    mcp_only = await user_with_token(services, "erin", Role.admin, ["mcp"])
    for token, why in ((user, "carol is a user"), (developer, "dave is a developer")):
        response = await anonymous.get("/metrics", headers=bearer(token))
        assert response.status_code == 403
        assert why in response.json()["detail"]
        assert "switchboard_" not in response.text
    response = await anonymous.get("/metrics", headers=bearer(mcp_only))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


async def test_a_metrics_token_scrapes_prometheus_text(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "scraper", Role.security, ["metrics"])
    record_calls(app)
    response = await anonymous.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    labels = {"server": "time", "tool": "convert_time"}
    assert value(text, "switchboard_tool_calls_total", **labels, outcome="ok") == 1
    assert value(text, "switchboard_tool_calls_total", **labels, outcome="error") == 1
    errors = value(
        text, "switchboard_tool_call_errors_total", **labels, error_class="SandboxTimeoutError"
    )
    assert errors == 1
    assert value(text, "switchboard_tool_call_duration_seconds_count", **labels) == 2
    assert value(text, "switchboard_tool_call_duration_seconds_bucket", **labels, le="60.0") == 2
    started = {"server": "time", "sandbox": "started"}
    assert value(text, "switchboard_sandbox_acquisitions_total", **started) == 1
    families = {family.name for family in text_string_to_metric_families(text)}
    assert "switchboard_sandbox_pool_idle" in families


async def test_openmetrics_is_served_to_a_scraper_that_asks(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "scraper", Role.admin, ["metrics"])
    record_calls(app)
    response = await anonymous.get(
        "/metrics",
        headers={**bearer(token), "Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_an_admin_api_token_and_an_oauth_token_scrape_too(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    assert (await client.get("/metrics")).status_code == 200
    await user_with_token(app.state.services, "sec", Role.security, ["mcp"])
    jwt, _ = await app.state.services.tokens.issue(
        subject="sec", client_id="grafana-agent", scopes=["metrics"], audience=MCP_URL
    )
    assert (await anonymous.get("/metrics", headers=bearer(jwt))).status_code == 200


async def test_a_demoted_scraper_is_refused_at_once(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    services = app.state.services
    token = await user_with_token(services, "scraper", Role.security, ["metrics"])
    assert (await anonymous.get("/metrics", headers=bearer(token))).status_code == 200
    async with services.transaction() as session:
        user = await get_user(session, "scraper")
        user.role = Role.user
        session.add(user)
    assert (await anonymous.get("/metrics", headers=bearer(token))).status_code == 403


async def test_a_metrics_token_opens_nothing_else(
    app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = await user_with_token(app.state.services, "scraper", Role.admin, ["metrics"])
    assert (await anonymous.get("/api/v1/me", headers=bearer(token))).status_code == 403
    mcp = await anonymous.post(
        "/mcp",
        headers={**bearer(token), "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
    )
    assert mcp.status_code == 403
    assert 'error="insufficient_scope"' in mcp.headers["WWW-Authenticate"]


async def test_only_security_and_admin_users_may_hold_the_scope(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = await client.post("/api/v1/me/tokens", json={"name": "prom", "scopes": ["metrics"]})
    assert created.status_code == 201, created.text
    scraped = await anonymous.get("/metrics", headers=bearer(created.json()["token"]))
    assert scraped.status_code == 200

    developer = await user_with_token(app.state.services, "dave", Role.developer, ["api", "mcp"])
    refused = await anonymous.post(
        "/api/v1/me/tokens",
        headers=bearer(developer),
        json={"name": "prom", "scopes": ["metrics"]},
    )
    assert refused.status_code == 400
    assert "cannot give a token metrics" in refused.json()["detail"]


async def test_the_cli_creates_a_scraper_token(
    app: Starlette,
    anonymous: httpx.AsyncClient,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def cli(*argv: str) -> str | int | None:
        try:
            main(list(argv))
        except SystemExit as exit:
            return exit.code
        return 0

    assert await anyio.to_thread.run_sync(cli, "user", "create", "prom", "--role", "security") == 0
    assert await anyio.to_thread.run_sync(cli, "user", "create", "carol") == 0
    capsys.readouterr()
    created = await anyio.to_thread.run_sync(
        cli, "--json", "token", "create", "--name", "scrape", "--scope", "metrics", "--user", "prom"
    )
    assert created == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert (await anonymous.get("/metrics", headers=bearer(token))).status_code == 200

    refused = await anyio.to_thread.run_sync(
        cli, "token", "create", "--name", "scrape", "--scope", "metrics", "--user", "carol"
    )
    assert "cannot give a token metrics" in str(refused)
