"""`team`, `grant`, `revoke`, `grants`, `secret` and `tools`: who may use what."""

from __future__ import annotations

import argparse
import os
import sys

import anyio

from registry import grants, secrets
from registry.errors import RegistryError
from registry.lookup import get_server
from registry.teams import add_member, create_team, ensure_user, get_team, list_teams
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json, table
from switchboard.identity.accounts import check_username


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    team = commands.add_parser("team", help="teams own servers and receive grants")
    verbs = team.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="create a team")
    create.add_argument("name")
    create.set_defaults(handler=create_team_command)
    verbs.add_parser("list", help="every team").set_defaults(handler=list_teams_command)
    add = verbs.add_parser("add", help="add a user to a team")
    add.add_argument("team")
    add.add_argument("user")
    add.set_defaults(handler=add_member_command)

    grant = commands.add_parser("grant", help="let a team use a server's tools")
    grant.add_argument("team")
    grant.add_argument("server", metavar="SERVER")
    grant.add_argument(
        "--scopes",
        nargs="*",
        default=[],
        help="scopes granted; tools needing no scope are always included; `*` means every tool",
    )
    grant.set_defaults(handler=grant_command)
    revoke = commands.add_parser("revoke", help="take a team's grant on a server away")
    revoke.add_argument("team")
    revoke.add_argument("server", metavar="SERVER")
    revoke.set_defaults(handler=revoke_command)
    listing = commands.add_parser("grants", help="list grants")
    listing.add_argument("--team")
    listing.add_argument("--server")
    listing.set_defaults(handler=list_grants_command)

    secret = commands.add_parser("secret", help="a server's credentials, encrypted at rest")
    secret_verbs = secret.add_subparsers(dest="verb", required=True)
    set_ = secret_verbs.add_parser(
        "set", help="store a secret; the value is read from standard input or --from-env"
    )
    set_.add_argument("server", metavar="SERVER")
    set_.add_argument("name")
    set_.add_argument("--from-env", metavar="VAR", help="read the value from this variable")
    set_.set_defaults(handler=set_secret_command)
    names = secret_verbs.add_parser("list", help="names of a server's stored secrets")
    names.add_argument("server", metavar="SERVER")
    names.set_defaults(handler=list_secrets_command)

    tools = commands.add_parser("tools", help="the tools a user can see right now")
    tools.add_argument("user")
    tools.set_defaults(handler=visible_tools_command)


async def create_team_command(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        team = await create_team(session, cmd.args.name, actor=await cmd.actor(session))
    print(f"created team {team.name}")


async def list_teams_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        teams = await list_teams(session)
    if cmd.as_json:
        emit_json([t.name for t in teams])
    else:
        table(["TEAM"], [[t.name] for t in teams], empty="no teams")


async def add_member_command(cmd: Command) -> None:
    check_username(cmd.args.user)
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team)
        user = await ensure_user(session, cmd.args.user)
        await add_member(session, team, user, actor=await cmd.actor(session))
    print(f"{cmd.args.user} is a member of {cmd.args.team}")


async def grant_command(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team)
        server = await get_server(session, cmd.args.server)
        row = await grants.grant(
            session, team, server, cmd.args.scopes, actor=await cmd.actor(session)
        )
    scopes = ", ".join(row.scopes) or "none (tools that need no scope)"
    print(f"granted {team.name} {server.name} with scopes: {scopes}")


async def revoke_command(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        team = await get_team(session, cmd.args.team)
        server = await get_server(session, cmd.args.server)
        await grants.revoke(session, team, server, actor=await cmd.actor(session))
    print(f"revoked {team.name}'s grant on {server.name}")


async def list_grants_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        team = await get_team(session, cmd.args.team) if cmd.args.team else None
        server = await get_server(session, cmd.args.server) if cmd.args.server else None
        rows = await grants.list_grants(session, team=team, server=server)
    if cmd.as_json:
        emit_json(rows)
        return
    table(
        ["TEAM", "SERVER", "SCOPES", "GRANTED BY", "AT"],
        [
            [
                g.team,
                g.server,
                " ".join(g.scopes) or "-",
                g.granted_by,
                g.granted_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for g in rows
        ],
        empty="no grants",
    )


async def set_secret_command(cmd: Command) -> None:
    if cmd.args.from_env:
        value = os.environ.get(cmd.args.from_env, "")
        if not value:
            raise RegistryError(f"environment variable {cmd.args.from_env} is not set or empty")
    else:
        if sys.stdin.isatty():
            print(f"value of {cmd.args.name} (input hidden is not supported; end with Ctrl-D):")
        value = (await anyio.to_thread.run_sync(sys.stdin.read)).rstrip("\n")
    async with cmd.services.transaction() as session:
        server = await get_server(session, cmd.args.server)
        await secrets.set_secret(
            session,
            cmd.services.secrets,
            server,
            cmd.args.name,
            value,
            actor=await cmd.actor(session),
        )
    print(f"stored secret {cmd.args.name} of {server.name} (encrypted)")


async def list_secrets_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        server = await get_server(session, cmd.args.server)
        declared = await secrets.declared_secrets(session, server)
        stored = set(await secrets.secret_names(session, server))
    rows = [[name, "stored" if name in stored else "MISSING"] for name in sorted(declared | stored)]
    if cmd.as_json:
        emit_json([{"name": n, "stored": s == "stored"} for n, s in rows])
    else:
        table(["SECRET", "STATE"], rows, empty=f"{server.name} needs no secrets")


async def visible_tools_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        tools = await cmd.services.catalog.visible_tools(session, cmd.args.user)
    if cmd.as_json:
        emit_json([t.wire for t in tools])
        return
    table(
        ["TOOL", "SCOPES", "DESCRIPTION"],
        [
            [
                t.name,
                " ".join(sorted(t.scopes)) or "-",
                (t.wire.get("description") or "").splitlines()[0][:70]
                if t.wire.get("description")
                else "",
            ]
            for t in tools
        ],
        empty=f"{cmd.args.user} can see no tools: nothing approved is granted to their teams",
    )
