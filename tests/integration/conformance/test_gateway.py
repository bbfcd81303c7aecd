"""The MCP conformance suites against Switchboard fronting the conformance fixture.

The fixture (tests/fixtures/conformance_server, proven alone by test_fixture_direct.py) is
published like any server, built into a sandbox image from its wheel, discovered, approved, and
served by the loopback-only test listener (`SWITCHBOARD_TEST_LISTENER`) under its own tool
names, because the suites send no token and call fixed names. Every call takes the real path:
the toolhost, a leased sandbox, pinning and audit. Both suites run every server scenario; any
failure not in `EXPECTED_FAILURES` fails the test, and so does an expected failure that passes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest

from registry.models import Role
from tests.conformance import Outcome, SuiteVersion, run_server_scenarios
from tests.conftest import user_with_token
from tests.e2e.conftest import free_port
from tests.e2e.live_server import live_switchboard
from tests.node_tools import NodeTools, node_tools
from tests.wheels import build_wheels

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("gateway")]  # module fixtures

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conformance_server"

EXPECTED_FAILURES: dict[SuiteVersion, dict[str, str]] = {"0.1.16": {}, "0.2": {}}
"""Scenario -> why Switchboard fronting the fixture fails it, per suite: none, the tasks
extension's included."""


@pytest.fixture(scope="module")
def fixture_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheels(tmp_path_factory.mktemp("conformance-wheel"), FIXTURE)


@pytest.fixture
def tools() -> NodeTools:
    return node_tools()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_conformance_through_switchboard(
    tmp_path: Path, database_url: str, fixture_wheels: Path, tools: NodeTools
) -> None:
    port = free_port()
    manifest = json.loads((FIXTURE / "server.json").read_text())
    async with live_switchboard(
        tmp_path / "data",
        database_url,
        wheelhouse=fixture_wheels,
        sandbox_owner=f"test-{uuid.uuid4().hex[:10]}",
        test_listener=f"127.0.0.1:{port}",
        test_listener_server="conformance-fixture",
    ) as server:
        token = await user_with_token(server.services, "sec", Role.admin, ["api"])
        async with server.client(token) as admin:
            published = await admin.post("/api/v1/servers", json=manifest)
            assert published.status_code == 201, published.text
            assert published.json()["slug"] == "conformance-fixture"
            version = f"/api/v1/servers/conformance-fixture/versions/{manifest['version']}"
            with anyio.fail_after(600):
                while (detail := (await admin.get(version)).json())["status"] == "building":
                    await anyio.sleep(0.5)
            assert detail["status"] == "pending", detail.get("build_log")
            approved = await admin.post(version + "/approve", json={"reason": "fixture"})
            assert approved.status_code == 200, approved.text

        url = f"http://127.0.0.1:{port}/mcp"
        outcomes: dict[SuiteVersion, dict[str, Outcome]] = {}

        async def run_suite(suite: SuiteVersion) -> None:
            outcomes[suite] = await run_server_scenarios(tools, suite, url, tmp_path / suite)

        async with anyio.create_task_group() as suites:  # side by side, as two clients would
            for suite in EXPECTED_FAILURES:
                suites.start_soon(run_suite, suite)
        surprises = {}
        for suite, expected in EXPECTED_FAILURES.items():
            assert outcomes[suite], f"the {suite} suite ran no scenario"
            for name, outcome in sorted(outcomes[suite].items()):
                if outcome.passed == (name in expected) and not outcome.skipped:
                    surprises[f"{suite} {name}"] = outcome.reason or "passed unexpectedly"
        assert not surprises, json.dumps(surprises, indent=2)
