"""Entry point of the `switchboard` console script."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from registry.errors import RegistryError
from sandboxes.errors import SandboxError
from switchboard.cli import (
    access,
    agents,
    auditing,
    catalog,
    discovering,
    identity,
    reviewing,
    runs,
    server,
)
from switchboard.cli.context import Command
from switchboard.services import open_services
from switchboard.settings import Settings


def build_parser() -> argparse.ArgumentParser:
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
    server.register(commands)
    catalog.register(commands)
    discovering.register(commands)
    reviewing.register(commands)
    access.register(commands)
    identity.register(commands)
    auditing.register(commands)
    agents.register(commands)
    runs.register(commands)
    return parser


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "local"


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
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
