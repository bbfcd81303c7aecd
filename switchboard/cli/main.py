"""Entry point of the `switchboard` console script."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from pydantic import ValidationError

from registry.errors import RegistryError
from sandboxes.errors import SandboxError
from switchboard.cli.context import Command
from switchboard.services import open_services
from switchboard.settings import Settings

COMMAND_MODULES: dict[str, str] = {
    "serve": "server",
    "init": "server",
    "migrate": "server",
    "publish": "catalog",
    "import-openapi": "catalog",
    "server": "catalog",
    "discover": "discovering",
    "review": "reviewing",
    "team": "access",
    "grant": "access",
    "revoke": "access",
    "grants": "access",
    "secret": "access",
    "tools": "access",
    "user": "identity",
    "token": "identity",
    "audit": "auditing",
    "agent": "agents",
    "run": "runs",
}
"""Which module of `switchboard.cli` defines each command, so that a command imports only what
it needs: the agent modules alone (pydantic-ai and the model clients) take seconds to import."""


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for the command `argv` names, or for every command when it names none we know
    (help, a typo, no arguments), so that argparse lists them all."""
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Host MCP tools and agents for a company. Settings come from SWITCHBOARD_* "
        "environment variables (see the README).",
    )
    parser.add_argument(
        "--as",
        dest="actor",
        help="user recorded as making the change (default: SWITCHBOARD_ACTOR or your login)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules(argv):
        module.register(commands)
    return parser


def _command_modules(argv: Sequence[str]) -> list[ModuleType]:
    word = _command_word(argv)
    names = [COMMAND_MODULES[word]] if word else dict.fromkeys(COMMAND_MODULES.values())
    return [importlib.import_module(f"switchboard.cli.{name}") for name in names]


def _command_word(argv: Sequence[str]) -> str | None:
    """The command `argv` names, past the global options; None when it names none we know."""
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word == "--as":
            del rest[:1]
        elif word != "--json" and not word.startswith("--as="):
            return word if word in COMMAND_MODULES else None
    return None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "local"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"error: invalid settings:\n{exc}")
    args.actor = args.actor or settings.actor or _login_name()
    if getattr(args, "sync_handler", None):
        sys.exit(args.sync_handler(settings, args))
    try:
        asyncio.run(_run(settings, args))
    except (RegistryError, SandboxError) as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


async def _run(settings: Settings, args: argparse.Namespace) -> None:
    try:
        async with open_services(settings) as services:
            await args.handler(Command(services, args))
    except BaseExceptionGroup as group:
        raise _single(group) from None


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error a task group wrapped, so the user sees its message, not a traceback."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]  # type: ignore[assignment]
    return group


if __name__ == "__main__":
    main()
