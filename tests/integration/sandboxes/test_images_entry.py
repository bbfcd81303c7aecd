"""`sb-entry` and `pick-command` as plain scripts, without Docker: fast checks of their contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes.images import pick_command, sb_entry

SB_ENTRY = Path(sb_entry.__file__)
PRINT_FOO_AND_REST = "import os, sys; print(os.environ.get('FOO'), sys.stdin.read().strip())"


def run_entry(stdin: bytes, *command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-I", str(SB_ENTRY), *command],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_first_line_becomes_environment_and_the_rest_reaches_the_server() -> None:
    result = run_entry(
        b'{"FOO": "bar"}\n{"jsonrpc": "2.0"}\n', sys.executable, "-c", PRINT_FOO_AND_REST
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split(" ", 1) == ["bar", '{"jsonrpc": "2.0"}\n']


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"\xff\n", "not UTF-8"),
        (b"{oops\n", "is not JSON"),
        (b'"FOO=bar"\n', "not an object"),
        (b'{"A=B": "x"}\n', "not a valid environment variable name"),
        (b'{"FOO": null}\n', "must be a string"),
        (b"", "stdin ended before the first line"),
    ],
)
def test_malformed_first_line_exits_2_without_echoing_it(line: bytes, message: str) -> None:
    result = run_entry(line, sys.executable, "-c", "print('must not run')")
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert result.stdout == b""


def test_missing_command_exits_127() -> None:
    result = run_entry(b"{}\n", "/nonexistent/server")
    assert result.returncode == 127
    assert "cannot start '/nonexistent/server'" in result.stderr.decode()


def test_choose_prefers_the_package_name_then_the_only_entry() -> None:
    assert pick_command.choose("mcp_server_time", ["x", "mcp-server-time"], "bin", "p") == (
        "mcp-server-time"
    )
    assert pick_command.choose("server", ["only"], "bin", "p") == "only"
    with pytest.raises(pick_command.PickError, match="found: `a`, `b`"):
        pick_command.choose("server", ["b", "a"], "bin", "p")
