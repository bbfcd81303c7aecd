"""How tests/conformance.py reads the suite's results: a FAILURE fails a scenario and says why, a
WARNING is kept without failing it, and a scenario that crashed is reported from what it printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conformance import ConformanceRunError, crashed, outcome_of, read_results
from tests.node_tools import NodeRun


def write_checks(output: Path, directory: str, checks: list[dict[str, str]]) -> None:
    folder = output / directory
    folder.mkdir(parents=True)
    (folder / "checks.json").write_text(json.dumps(checks))


def test_a_failed_check_fails_the_scenario_and_names_itself() -> None:
    outcome = outcome_of(
        [
            {"id": "tools-list", "status": "SUCCESS", "description": "lists"},
            {"id": "tools-name-format", "status": "FAILURE", "errorMessage": "bad name"},
            {"name": "ServerSendsRetryField", "status": "WARNING", "errorMessage": "no retry"},
            {"id": "note", "status": "INFO", "description": "just so you know"},
        ]
    )

    assert not outcome.passed
    assert outcome.reason == "tools-name-format: bad name"
    assert outcome.warnings == ("ServerSendsRetryField: no retry",)


def test_warnings_skips_and_infos_alone_pass() -> None:
    outcome = outcome_of(
        [
            {"id": "a", "status": "WARNING", "description": "a SHOULD left out"},
            {"id": "b", "status": "SKIPPED", "description": "not applicable"},
        ]
    )

    assert outcome.passed
    assert outcome.reason == ""
    assert outcome.warnings == ("a: a SHOULD left out",)


def test_results_are_keyed_by_the_scenario_in_each_directory_name(tmp_path: Path) -> None:
    write_checks(tmp_path, "server-tools-list-2026-12-01T21-42-00-693Z", [{"status": "SUCCESS"}])
    write_checks(
        tmp_path,
        "server-sep-2164-resource-not-found-2026-12-01T21-42-01-001Z",
        [{"id": "x", "status": "FAILURE", "errorMessage": "empty contents"}],
    )

    outcomes = read_results(tmp_path)

    assert outcomes["tools-list"].passed
    assert outcomes["sep-2164-resource-not-found"].reason == "x: empty contents"


def test_a_directory_the_suite_would_not_write_is_an_error(tmp_path: Path) -> None:
    write_checks(tmp_path, "something-else", [])

    with pytest.raises(ConformanceRunError, match="something-else"):
        read_results(tmp_path)


def test_a_crashed_scenario_quotes_what_the_suite_said_about_it() -> None:
    run = NodeRun(
        code=1,
        stdout="",
        stderr="noise\nFailed to run scenario caching: fetch failed\nmore noise",
    )

    outcome = crashed("caching", run)

    assert not outcome.passed
    assert "Failed to run scenario caching: fetch failed" in outcome.reason
    assert "noise" not in outcome.reason
