"""`switchboard agent publish|list|show|withdraw`, in-process against both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.catalog import catalog_files
from switchboard.cli.main import main
from switchboard.settings import Settings
from tests.integration.agents_catalog.conftest import agent_yaml


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    assert caught.value.code not in (0, None)
    return str(caught.value.code)


def test_invalid_files_publish_nothing_and_print_every_problem(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(agent_yaml())
    bad.write_text(agent_yaml("Bad Name", version="one") + "model: openai:gpt-4o\n")
    message = fails(capsys, "agent", "publish", str(good), str(bad))
    assert message.startswith("error: nothing published:")
    assert f"{bad} is not valid" in message
    for pointer in ("/name:", "/model:", "/switchboard/version:"):
        assert pointer in message
    assert "no agents" in run(capsys, "agent", "list")
    assert "cannot read" in fails(capsys, "agent", "publish", str(tmp_path / "missing.yaml"))
    assert "or pass `--catalog`" in fails(capsys, "agent", "publish")


def test_publish_the_catalogue_twice_then_browse(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [path.stem for path in catalog_files()]
    first = run(capsys, "agent", "publish", "--catalog")
    assert first.splitlines() == [f"published {name}@1.0.0" for name in names]
    again = run(capsys, "agent", "publish", "--catalog")
    assert all(line.startswith("already published (unchanged)") for line in again.splitlines())
    listing = run(capsys, "agent", "list")
    assert "Meeting time converter" in listing
    assert "no server `clock` in the catalogue" in listing
    cards = json.loads(run(capsys, "--json", "agent", "list"))
    assert sorted(card["name"] for card in cards) == sorted(names)
    assert not any(card["launchable"] for card in cards)
    shown = run(capsys, "agent", "show", "task-capture@1.0.0")
    assert "title: Task [string, required]" in shown
    assert "versions: 1.0.0" in shown
    detail = json.loads(run(capsys, "--json", "agent", "show", "meeting-time"))
    assert detail["questions"][0]["key"] == "time"
    assert "no agent named 'nobody'" in fails(capsys, "agent", "show", "nobody")


def test_withdraw_a_version_from_the_command_line(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(agent_yaml())
    new.write_text(agent_yaml(summary="Newer.", version="1.0.1"))
    run(capsys, "agent", "publish", str(old), str(new))
    said = run(capsys, "agent", "withdraw", "greeter@1.0.1", "--reason", "wrong tone")
    assert said.startswith("withdrawn greeter@1.0.1")
    detail = json.loads(run(capsys, "--json", "agent", "show", "greeter"))
    assert detail["version"] == "1.0.0"
    assert "NAME@VERSION" in fails(capsys, "agent", "withdraw", "greeter")
    assert "has no version '2.0.0'" in fails(capsys, "agent", "withdraw", "greeter@2.0.0")


def test_everyones_runs_are_refused_to_a_plain_user(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "user", "create", "uma", "--role", "user")
    run(capsys, "user", "create", "sam", "--role", "security")
    assert "no runs" in run(capsys, "--as", "uma", "run", "list")
    message = fails(capsys, "--as", "uma", "run", "list", "--all")
    assert "everyone's runs are for the security role; uma is a user" in message
    assert "no runs" in run(capsys, "--as", "sam", "run", "list", "--all")
