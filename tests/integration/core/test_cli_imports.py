"""A command imports only what it needs: `switchboard review list` must not pay seconds for the
agent machinery (pydantic-ai, the model clients) or the MCP SDK's transports, nor `switchboard
run list` for the run engine."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.cli.main import COMMAND_MODULES, _command_word, build_parser

HEAVY = ("pydantic_ai", "openai", "mcp.server", "mcp.client", "agents.spec", "toolhost")

REPORT = """
import json, sys
from switchboard.cli.main import main
main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(tmp_path: Path, *argv: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", REPORT, *argv],
        env={"SWITCHBOARD_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: list[str] = json.loads(result.stderr.splitlines()[-1])
    return set(loaded)


def test_catalogue_commands_skip_the_agent_machinery(tmp_path: Path) -> None:
    for argv in (["init"], ["--json", "review", "list"], ["--as", "run", "team", "list"]):
        loaded = modules_after(tmp_path, *argv)
        assert "switchboard.services" in loaded
        assert not [m for m in loaded if m.startswith(HEAVY)], argv


def test_run_commands_skip_the_model_clients_and_the_engine(tmp_path: Path) -> None:
    modules_after(tmp_path, "init")
    loaded = modules_after(tmp_path, "--as", "admin", "run", "list", "--all")
    clients = ("openai", "mcp.server", "mcp.client", "agents.runs.engine", "toolhost")
    assert "agents.runs.service" in loaded
    assert not [m for m in loaded if m.startswith(clients)]


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["review", "list"], "review"),
        (["--json", "grants"], "grants"),
        (["--as", "run", "team", "list"], "team"),
        (["--as=bob", "--json", "token", "list"], "token"),
        (["--help"], None),
        (["--js", "review", "list"], None),
        (["revie", "list"], None),
        ([], None),
        (["--as"], None),
    ],
)
def test_the_command_word_is_found_past_the_global_options(
    argv: list[str], word: str | None
) -> None:
    assert _command_word(argv) == word


def test_the_table_names_the_module_that_defines_each_command() -> None:
    defined: dict[str, str] = {}
    for name in set(COMMAND_MODULES.values()):
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"switchboard.cli.{name}").register(commands)
        defined |= dict.fromkeys(commands.choices, name)
    assert defined == COMMAND_MODULES


def test_help_and_typos_see_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(["revie"]).parse_args(["revie"])
    listed = capsys.readouterr().err
    assert all(f"'{command}'" in listed for command in COMMAND_MODULES)
    parser = build_parser(["review", "list"])
    assert parser.parse_args(["review", "list"]).command == "review"
