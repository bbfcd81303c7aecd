"""`publish`, `import-openapi`, `server list|show` and `tools`."""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

from registry import publishing, review
from registry.documents import read_document
from registry.listing import server_summaries
from registry.manifest import read_manifest
from registry.models import ReviewStatus, Server, ServerVersion, pk
from registry.teams import get_team
from switchboard.cli.context import Command
from switchboard.cli.discovering import report, run_discovery
from switchboard.cli.output import emit_json, table
from switchboard.cli.reviewing import print_review


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser(
        "publish", help="publish a server.json; build its sandbox and discover its tools"
    )
    publish.add_argument("path", type=Path, help="path to a server.json manifest")
    publish.add_argument(
        "--no-discover",
        action="store_true",
        help="record the manifest only (pending, no tools); `switchboard discover` later",
    )
    _owner_options(publish)
    publish.set_defaults(handler=publish_command)

    openapi = commands.add_parser(
        "import-openapi", help="turn an OpenAPI 3.0/3.1 document into a server of tools"
    )
    openapi.add_argument("spec", type=Path, help="OpenAPI document, JSON or YAML")
    openapi.add_argument("--name", required=True, help="server name, e.g. com.example/tasks")
    openapi.add_argument("--version", help="version to record (default: the spec's info.version)")
    openapi.add_argument(
        "--base-url", help="URL the API is reached at (default: the spec's first server)"
    )
    _owner_options(openapi)
    openapi.set_defaults(handler=import_openapi_command)

    server = commands.add_parser("server", help="browse the catalogue")
    verbs = server.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="every server and its versions").set_defaults(
        handler=list_servers
    )
    show = verbs.add_parser("show", help="one version in full: policy, tools, review")
    show.add_argument("ref", metavar="SERVER[@VERSION]")
    show.set_defaults(handler=show_server)


def _owner_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", help="owning team (default: SWITCHBOARD_DEFAULT_TEAM)")
    parser.add_argument("--slug", help="short tool-name prefix on first publish (default: derived)")


async def publish_command(cmd: Command) -> None:
    parsed = await anyio.to_thread.run_sync(read_manifest, cmd.args.path)
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team or cmd.services.settings.default_team)
        version = await publishing.publish_manifest(
            session,
            parsed,
            team=team,
            actor=await cmd.actor(session),
            slug=cmd.args.slug,
            discover=not cmd.args.no_discover,
        )
    if version.status != ReviewStatus.building:
        await _report_published(cmd, parsed.manifest.name, version)
        return
    if not cmd.as_json:
        print(
            f"published {parsed.manifest.name}@{version.version}; building its sandbox and "
            "listing its tools (a package's first build takes a minute or two)"
        )
    report(cmd, await run_discovery(cmd, pk(version)))


async def import_openapi_command(cmd: Command) -> None:
    data = await anyio.to_thread.run_sync(read_document, cmd.args.spec)
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team or cmd.services.settings.default_team)
        version = await publishing.import_openapi(
            session,
            data,
            source=str(cmd.args.spec),
            name=cmd.args.name,
            version=cmd.args.version,
            team=team,
            actor=await cmd.actor(session),
            slug=cmd.args.slug,
            base_url=cmd.args.base_url,
        )
        server = await session.get(Server, version.server_id)
    await _report_published(cmd, server.name if server else cmd.args.name, version)


async def _report_published(cmd: Command, name: str, version: ServerVersion) -> None:
    if cmd.as_json:
        async with cmd.services.sessions() as session:
            emit_json(await review.describe(session, f"{name}@{version.version}"))
        return
    print(f"published {name}@{version.version}: {version.status}, awaiting security review")
    if version.tools_digest:
        print(f"tools digest {version.tools_digest}")
    print(f"next: `switchboard review show {name}@{version.version}`")


async def list_servers(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        servers = await server_summaries(session)
    if cmd.as_json:
        emit_json(servers)
        return
    table(
        ["SERVER", "SLUG", "KIND", "OWNER", "VERSION", "STATUS", "LIVE"],
        [
            [s.name, s.slug, s.kind, s.owner, v.version, v.status, "yes" if v.live else ""]
            for s in servers
            for v in s.versions
        ],
        empty="the catalogue is empty; publish with `switchboard publish server.json`",
    )


async def show_server(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        detail = await review.describe(session, cmd.args.ref)
    if cmd.as_json:
        emit_json(detail)
    else:
        print_review(detail)
