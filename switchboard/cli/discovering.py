"""`discover`: build a version's sandbox and record its tools (also run by `publish`)."""

from __future__ import annotations

import argparse

from registry.errors import InvalidStateError
from registry.lookup import get_version
from registry.models import ReviewStatus, pk
from sandboxes.discovery import DiscoveryResult
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json
from switchboard.sandboxing import discover_version


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "discover",
        help="build a version's sandbox, start it and record its tools (retries a failed build)",
    )
    parser.add_argument("ref", metavar="SERVER[@VERSION]")
    parser.set_defaults(handler=discover_command)


async def discover_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        server, version = await get_version(
            session, cmd.args.ref, prefer=(ReviewStatus.building, ReviewStatus.failed)
        )
    if version.status not in (ReviewStatus.building, ReviewStatus.failed):
        raise InvalidStateError(
            f"{server.name}@{version.version} is {version.status}: its tools were discovered "
            "already; publish a new version to change them"
        )
    report(cmd, await run_discovery(cmd, pk(version)))


async def run_discovery(cmd: Command, version_id: int) -> DiscoveryResult:
    return await discover_version(cmd.services, version_id, cmd.args.actor)


def report(cmd: Command, result: DiscoveryResult) -> None:
    if cmd.as_json:
        emit_json(result)
    elif result.status == "pending":
        print(f"discovered {len(result.tools)} tools: {', '.join(result.tools)}")
        print("the version awaits security review")
    else:
        print(f"discovery failed; the version is `failed`:\n{result.log}")
        raise SystemExit(1)
