"""`agent publish|list|show|withdraw`: agent documents and the catalogue a user may launch from."""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

from agents.availability import caller
from agents.catalog import catalog_files
from agents.listing import AgentDetail, agent_cards, agent_detail
from agents.models.store import ConfigStore
from agents.publishing import publish_agent, withdraw_agent
from agents.spec import AgentDocument, parse_agent
from registry.errors import InvalidDocumentError, RegistryError
from registry.teams import get_team
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json, table


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = commands.add_parser("agent", help="publish and browse agents")
    verbs = agent.add_subparsers(dest="verb", required=True)
    publish = verbs.add_parser(
        "publish", help="publish agent documents (YAML); the same document again is a no-op"
    )
    publish.add_argument("paths", type=Path, nargs="*", metavar="FILE")
    publish.add_argument(
        "--catalog", action="store_true", help="also the prebuilt agents shipped with Switchboard"
    )
    publish.add_argument("--team", help="owning team (default: SWITCHBOARD_DEFAULT_TEAM)")
    publish.set_defaults(handler=publish_command)
    verbs.add_parser(
        "list", help="agents the acting user (`--as`) sees, and whether they can launch each"
    ).set_defaults(handler=list_command)
    show = verbs.add_parser("show", help="one agent: launch form, tools, versions")
    show.add_argument("ref", metavar="NAME[@VERSION]")
    show.set_defaults(handler=show_command)
    withdraw = verbs.add_parser(
        "withdraw", help="stop new launches of one agent version (its runs and history stay)"
    )
    withdraw.add_argument("ref", metavar="NAME@VERSION")
    withdraw.add_argument("--reason", help="why, for the audit log")
    withdraw.set_defaults(handler=withdraw_command)


async def withdraw_command(cmd: Command) -> None:
    name, _, version = cmd.args.ref.partition("@")
    if not name or not version:
        raise RegistryError(f"name the version to withdraw as NAME@VERSION, not {cmd.args.ref!r}")
    async with cmd.services.transaction() as session:
        actor = await cmd.actor(session)
        await withdraw_agent(session, name, version, actor=actor, reason=cmd.args.reason)
    if cmd.as_json:
        emit_json({"name": name, "version": version, "withdrawn": True})
        return
    print(f"withdrawn {name}@{version}: it is no longer launched; its runs and history stay")


def _read(path: Path) -> AgentDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from exc
    return parse_agent(text, str(path))


async def publish_command(cmd: Command) -> None:
    """Every file is checked before any is published, and every problem is printed."""
    paths = [*cmd.args.paths, *(catalog_files() if cmd.args.catalog else [])]
    if not paths:
        raise RegistryError("name agent documents to publish, or pass `--catalog`")
    documents, failures = [], []
    for path in paths:
        try:
            documents.append(await anyio.to_thread.run_sync(_read, path))
        except InvalidDocumentError as exc:
            failures.append(str(exc))
    if failures:
        raise RegistryError("nothing published:\n" + "\n".join(failures))
    published = []
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team or cmd.services.settings.default_team)
        actor = await cmd.actor(session)
        for document in documents:
            published.append(await publish_agent(session, document, team=team, actor=actor))
    if cmd.as_json:
        emit_json(
            [
                {"name": p.agent.name, "version": p.version.version, "created": p.created}
                for p in published
            ]
        )
        return
    for p in published:
        what = "published" if p.created else "already published (unchanged)"
        print(f"{what} {p.agent.name}@{p.version.version}")


async def _aliases(cmd: Command) -> set[str]:
    """The model aliases the service would route: the model file, or the one stored by the API."""
    settings = cmd.services.settings
    store = ConfigStore(cmd.services.sessions, cmd.services.secrets, settings.models_file)
    await store.load()
    return set(store.current.aliases)


async def list_command(cmd: Command) -> None:
    services = cmd.services
    models = await _aliases(cmd)
    async with services.sessions() as session:
        who = await caller(session, services.catalog, cmd.args.actor)
        cards = await agent_cards(session, services.catalog, who, models=models)
    if cmd.as_json:
        emit_json(cards)
        return
    table(
        ["AGENT", "VERSION", "TITLE", "LAUNCHABLE", "WHY NOT"],
        [
            [c.name, c.version, c.title, "yes" if c.launchable else "no", "; ".join(c.reasons)]
            for c in cards
        ],
        empty="no agents; publish some with `switchboard agent publish agents/catalog/*.yaml`",
    )


async def show_command(cmd: Command) -> None:
    name, _, version = cmd.args.ref.partition("@")
    services = cmd.services
    models = await _aliases(cmd)
    async with services.sessions() as session:
        who = await caller(session, services.catalog, cmd.args.actor)
        detail = await agent_detail(
            session, services.catalog, who, name, version or None, models=models
        )
    if cmd.as_json:
        emit_json(detail)
    else:
        _print_detail(detail)


def _print_detail(detail: AgentDetail) -> None:
    print(f"{detail.icon} {detail.title} ({detail.name}@{detail.version}, team {detail.owner})")
    print(f"  {detail.summary}")
    print(f"  model alias: {detail.model}")
    print("  launchable: " + ("yes" if detail.launchable else "no"))
    for reason in detail.reasons:
        print(f"    - {reason}")
    print("  tools:")
    for tool in detail.tools:
        flags = ["needs approval" if tool.needs_approval else "runs unattended"]
        if not tool.granted:
            flags.append("not granted to you")
        print(f"    {tool.name} ({', '.join(flags)})")
    print("  launch form:")
    for q in detail.questions:
        required = "required" if q.required else "optional"
        print(f"    {q.key}: {q.label} [{q.type}, {required}]")
    print("  versions: " + ", ".join(v.version for v in detail.versions))
