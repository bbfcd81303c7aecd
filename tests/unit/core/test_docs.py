"""The README is the user's manual: these fail when it drifts from the code."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from switchboard.cli.main import build_parser
from switchboard.settings import Settings

README = (Path(__file__).parents[3] / "README.md").read_text()


def commands(parser: argparse.ArgumentParser, prefix: str = "switchboard") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix} {name}")
                found += nested or [f"{prefix} {name}"]
    return found


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`SWITCHBOARD_{name.upper()}`" in README, name


def test_every_command_is_documented() -> None:
    verbs = commands(build_parser())
    assert len(verbs) > 15
    for verb in verbs:
        short = verb.removeprefix("switchboard ")
        assert f"`{verb}" in README or f"`{short.split()[0]} {short.split()[-1]}" in README, verb


def test_first_screen_gives_exactly_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    lines = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [line for line in lines if line] == ["make up", "make test"]
    assert README.index("make up") < 600
