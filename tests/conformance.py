"""Run the MCP conformance suite's server scenarios against a URL and say how each one went.

    outcomes = await run_server_scenarios(node_tools(), "0.2", "http://127.0.0.1:3001/mcp", tmp)
    failed = {name: o.reason for name, o in outcomes.items() if not o.passed}

Each scenario writes its checks to `checks.json` under the output directory; a scenario passes
when none of its checks is a FAILURE (warnings, e.g. an unsent SHOULD, are kept but do not fail
it). A scenario that crashed leaves no `checks.json`; the suite's summary still names it, and the
reason quotes what it printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.node_tools import NodeRun, NodeTools, run_node

SuiteVersion = Literal["0.1.16", "0.2"]
SUITE_VERSIONS: tuple[SuiteVersion, ...] = ("0.1.16", "0.2")
SUITE_SECONDS = 900.0
SCENARIO_SECONDS = 120.0

_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
_SUMMARY_LINE = re.compile(r"^[✓✗] (?P<scenario>\S+): \d+ passed, \d+ failed$", re.MULTILINE)
_LISTED = re.compile(r"^  - (?P<scenario>\S+) \[", re.MULTILINE)


class ConformanceRunError(RuntimeError):
    """The suite did not run: bad arguments, or it printed no result at all."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    reason: str = ""
    """Why it failed: each failed check's id and message, or what a crashed scenario printed;
    for a skipped scenario, why the suite skipped it."""
    warnings: tuple[str, ...] = ()
    skipped: bool = False
    """The suite did not run it: not applicable at the requested `spec_version`."""


def suite_entry(tools: NodeTools, version: SuiteVersion) -> Path:
    return tools.conformance_0116 if version == "0.1.16" else tools.conformance_02


def outcome_of(checks: Sequence[Mapping[str, object]]) -> Outcome:
    def line(check: Mapping[str, object]) -> str:
        label = check.get("id") or check.get("name")
        return f"{label}: {check.get('errorMessage') or check.get('description')}"

    failures = [line(check) for check in checks if check.get("status") == "FAILURE"]
    warnings = tuple(line(check) for check in checks if check.get("status") == "WARNING")
    return Outcome(passed=not failures, reason="; ".join(failures), warnings=warnings)


def read_results(output: Path) -> dict[str, Outcome]:
    """The outcome of every scenario that left a `checks.json` under `output`."""
    outcomes: dict[str, Outcome] = {}
    for checks_file in sorted(output.glob("*/checks.json")):
        match = _RESULT_DIR.match(checks_file.parent.name)
        if match is None:
            raise ConformanceRunError(f"unexpected result directory {checks_file.parent}")
        outcomes[match["scenario"]] = outcome_of(json.loads(checks_file.read_text()))
    return outcomes


def crashed(scenario: str, run: NodeRun) -> Outcome:
    """A scenario the suite names but that left no checks: quote what the suite printed about it."""
    said = [line for line in run.stderr.splitlines() if scenario in line] or run.stderr.splitlines()
    return Outcome(
        passed=False, reason=f"no checks recorded; the suite said: {' | '.join(said[-5:])}"
    )


async def run_server_scenarios(
    tools: NodeTools,
    version: SuiteVersion,
    url: str,
    workdir: Path,
    scenarios: Sequence[str] = (),
    *,
    spec_version: str | None = None,
) -> dict[str, Outcome]:
    """Run every server scenario of suite `version` (`--suite all`), or just `scenarios`, on `url`.

    `workdir` receives the suite's results (one directory per run) and stands in for its HOME.
    `spec_version` (e.g. `2026-07-28`) makes each scenario speak that protocol revision.
    """
    common = ["server", "--url", url, *(["--spec-version", spec_version] if spec_version else [])]
    if not scenarios:
        output = workdir / f"{version}-all"
        run = await _run(tools, version, workdir, *common, "--suite", "all", "-o", str(output))
        named = _SUMMARY_LINE.findall(run.stdout)
        if not named:
            raise ConformanceRunError(f"the {version} suite printed no summary:\n{_tail(run)}")
        recorded = read_results(output)
        return {name: recorded.get(name) or crashed(name, run) for name in named}
    outcomes: dict[str, Outcome] = {}
    for scenario in scenarios:
        output = workdir / f"{version}-{scenario}"
        run = await _run(
            tools, version, workdir, *common, "--scenario", scenario, "-o", str(output)
        )
        recorded = read_results(output)
        if scenario in recorded:
            outcomes[scenario] = recorded[scenario]
        elif "SKIPPED:" in run.stdout:
            outcomes[scenario] = Outcome(passed=True, reason=run.stdout.strip(), skipped=True)
        elif run.code != 0:
            outcomes[scenario] = crashed(scenario, run)
        else:
            raise ConformanceRunError(f"{scenario} recorded no checks:\n{_tail(run)}")
    return outcomes


async def listed_server_scenarios(tools: NodeTools, version: SuiteVersion, home: Path) -> list[str]:
    """Every server scenario suite `version` ships, as its `list --server` prints them."""
    run = await _run(tools, version, home, "list", "--server")
    listed = _LISTED.findall(run.stdout)
    if run.code != 0 or not listed:
        raise ConformanceRunError(f"the {version} suite listed no server scenarios:\n{_tail(run)}")
    return listed


async def _run(tools: NodeTools, version: SuiteVersion, home: Path, *arguments: str) -> NodeRun:
    seconds = SCENARIO_SECONDS if "--scenario" in arguments else SUITE_SECONDS
    return await run_node(
        tools, home, str(suite_entry(tools, version)), *arguments, seconds=seconds
    )


def _tail(run: NodeRun) -> str:
    return f"exit code {run.code}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"
