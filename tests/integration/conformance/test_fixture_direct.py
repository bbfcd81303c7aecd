"""The conformance fixture on its own passes every server scenario it can, in both suites.

The fixture (tests/fixtures/conformance_server) runs from its source tree over streamable HTTP
on a loopback port, and both conformance suites run every server scenario they ship against it:
0.1.16 and 0.2 at each scenario's default protocol revision, and 0.2 again with every scenario
speaking 2026-07-28. Any failure not in `EXPECTED_FAILURES` fails the test, and so does an
expected failure that starts passing, so the table stays true. With the fixture proven here, the
same suites against Switchboard's /mcp measure the gateway alone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.conformance import SuiteVersion, listed_server_scenarios, run_server_scenarios
from tests.node_tools import NodeTools, node_tools

FIXTURE_SOURCE = Path(__file__).parents[2] / "fixtures" / "conformance_server" / "src"
START_SECONDS = 30

EXPECTED_FAILURES: dict[SuiteVersion, dict[str, str]] = {"0.1.16": {}, "0.2": {}}
"""Scenario -> why the fixture fails it, per suite. Empty: it passes every scenario both ship."""


@pytest.fixture
def tools() -> NodeTools:
    """Installed (or found) before the fixture starts: a cold install takes half a minute."""
    return node_tools()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def fixture_url(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    log = tmp_path / "fixture.log"
    env = {**os.environ, "PYTHONPATH": str(FIXTURE_SOURCE)}
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard_conformance_fixture",
            "--http",
            str(port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        await wait_until_listening(url, process, log)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_listening(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.returncode is not None:
                printed = await anyio.Path(log).read_text()
                pytest.fail(f"the fixture exited with {process.returncode}:\n{printed}")
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                if loop.time() > deadline:
                    pytest.fail(f"the fixture did not listen within {START_SECONDS} s")
                await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("version", "spec_version"),
    [("0.1.16", None), ("0.2", None), ("0.2", "2026-07-28")],
    ids=["0.1.16", "0.2", "0.2-at-2026-07-28"],
)
async def test_the_fixture_passes_every_server_scenario_it_implements(
    tools: NodeTools,
    fixture_url: str,
    tmp_path: Path,
    version: SuiteVersion,
    spec_version: str | None,
) -> None:
    outcomes = await run_server_scenarios(
        tools, version, fixture_url, tmp_path / "results", spec_version=spec_version
    )

    if spec_version is None:
        listed = await listed_server_scenarios(tools, version, tmp_path)
        assert sorted(outcomes) == sorted(listed), "the suite skipped some of its own scenarios"
    else:
        # The run at one revision leaves out the scenarios not applicable at it, tasks included.
        assert "server-stateless" in outcomes
        assert "tools-call-simple-text" in outcomes
    expected = {
        name: reason
        for name, reason in EXPECTED_FAILURES[version].items()
        if spec_version is None or name in outcomes
    }
    failed = {name: outcome.reason for name, outcome in outcomes.items() if not outcome.passed}
    unexpected = {name: reason for name, reason in failed.items() if name not in expected}
    assert not unexpected, f"scenarios failing against the fixture alone: {unexpected}"
    now_passing = sorted(set(expected) - set(failed))
    assert not now_passing, f"expected to fail but passed, update EXPECTED_FAILURES: {now_passing}"
