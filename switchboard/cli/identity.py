"""`user` and `token`: accounts, roles and personal access tokens."""

from __future__ import annotations

import argparse
import getpass
import re
import secrets
import sys
from datetime import timedelta

import anyio

from registry.errors import RegistryError
from registry.models import Role
from switchboard.audit.log import Event, append_in
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json, table
from switchboard.identity.accounts import (
    create_user,
    get_user,
    list_users,
    parse_role,
    set_disabled,
    set_password,
)
from switchboard.identity.pats import create_pat, list_pats, revoke_pat
from switchboard.identity.scopes import grantable

DURATION = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="accounts and their roles")
    verbs = user.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="create a local account")
    create.add_argument("name")
    create.add_argument(
        "--role", default="user", help="user, developer, security or admin (default: user)"
    )
    create.add_argument("--display-name")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (default: generate one and print it once)",
    )
    create.set_defaults(handler=create_user_command)
    verbs.add_parser("list", help="every account").set_defaults(handler=list_users_command)
    for verb, disabled, what in (
        ("disable", True, "disable an account (its sessions and tokens stop working)"),
        ("enable", False, "re-enable an account (its unexpired sessions and tokens work again)"),
    ):
        toggle = verbs.add_parser(verb, help=what)
        toggle.add_argument("name")
        toggle.set_defaults(handler=toggle_user_command, disabled=disabled)
    password = verbs.add_parser("password", help="set a new password (read from stdin)")
    password.add_argument("name")
    password.set_defaults(handler=password_command)

    token = commands.add_parser("token", help="personal access tokens for scripts and CI")
    token_verbs = token.add_subparsers(dest="verb", required=True)
    new = token_verbs.add_parser("create", help="create a token; it is printed once")
    new.add_argument("--name", required=True, help="what the token is for, e.g. `ci-nightly`")
    new.add_argument(
        "--scope",
        action="append",
        required=True,
        help="repeat for each scope: `mcp`, `api`, `metrics`, `tools:<server>` or a tool scope",
    )
    new.add_argument("--expires", default="30d", help="lifetime: 30m, 12h, 90d (default 30d)")
    new.add_argument("--user", help="whose token (default: you, the acting user)")
    new.set_defaults(handler=create_token_command)
    listing = token_verbs.add_parser("list", help="a user's tokens (never their values)")
    listing.add_argument("--user")
    listing.set_defaults(handler=list_tokens_command)
    revoke = token_verbs.add_parser("revoke", help="revoke a token by its ID")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--user")
    revoke.set_defaults(handler=revoke_token_command)


def parse_duration(text: str) -> timedelta:
    match = DURATION.match(text)
    if match is None:
        raise RegistryError(f"--expires {text!r} is not a duration such as 30m, 12h or 90d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


async def _read_password() -> str:
    if sys.stdin.isatty():
        entered: str = await anyio.to_thread.run_sync(getpass.getpass, "password: ")
        return entered
    line: str = await anyio.to_thread.run_sync(sys.stdin.readline)
    return line.rstrip("\n")


async def create_user_command(cmd: Command) -> None:
    role = parse_role(cmd.args.role)
    generated = not cmd.args.password_stdin
    password = secrets.token_urlsafe(18) if generated else await _read_password()
    try:
        async with cmd.services.transaction() as session:
            actor = (await cmd.actor(session)).username
            user = await create_user(
                session,
                cmd.args.name,
                role=role,
                password=password,
                display_name=cmd.args.display_name,
            )
            created = Event(
                actor=actor,
                action="user_create",
                outcome="ok",
                target=user.username,
                detail={"role": role.value},
            )
            await append_in(session, [created])
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    print(f"created {role.value} {user.username}")
    if generated:
        print(f"password: {password}  (shown once)")


async def list_users_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        users = await list_users(session)
    rows = [
        {
            "name": u.username,
            "role": u.role,
            "status": "disabled" if u.disabled else "active",
            "sign_in": "password" if u.password_hash else ("sso" if u.external_subject else "-"),
        }
        for u in users
    ]
    if cmd.as_json:
        emit_json(rows)
    else:
        table(
            ["USER", "ROLE", "STATUS", "SIGN-IN"],
            [list(r.values()) for r in rows],
            empty="no users",
        )


async def toggle_user_command(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        actor = (await cmd.actor(session)).username
        user = await set_disabled(session, cmd.args.name, cmd.args.disabled)
        verb = "disabled" if user.disabled else "enabled"
        action = f"user_{verb.removesuffix('d')}"
        await append_in(session, [Event(actor, action, "ok", target=user.username)])
    print(f"{verb} {user.username}")


async def password_command(cmd: Command) -> None:
    password = await _read_password()
    try:
        async with cmd.services.transaction() as session:
            actor = (await cmd.actor(session)).username
            user = await set_password(session, cmd.args.name, password)
            await append_in(session, [Event(actor, "user_password", "ok", target=user.username)])
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    print(f"password of {user.username} changed")


async def create_token_command(cmd: Command) -> None:
    services = cmd.services
    lifetime = parse_duration(cmd.args.expires)
    async with services.transaction() as session:
        actor = await cmd.actor(session)
        owner = await get_user(session, cmd.args.user) if cmd.args.user else actor
        allowed = grantable(
            await services.catalog.visible_tools(session, owner.username), Role(owner.role)
        )
        token, row = await create_pat(
            session,
            owner,
            name=cmd.args.name,
            scopes=cmd.args.scope,
            allowed=allowed,
            expires_in=lifetime,
        )
        created = Event(
            actor=actor.username,
            action="token_create",
            outcome="ok",
            target=owner.username,
            detail={"token_id": row.id, "scopes": row.scopes},
        )
        await append_in(session, [created])
    if cmd.as_json:
        emit_json({"id": row.id, "token": token, "expires_at": row.expires_at.isoformat()})
        return
    print(f"token {row.id} for {owner.username}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC:")
    print(token)
    print("(shown once: store it now)")


async def list_tokens_command(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        owner = (
            await get_user(session, cmd.args.user) if cmd.args.user else await cmd.actor(session)
        )
        rows = await list_pats(session, owner)
    data = [
        {
            "id": r.id,
            "name": r.name,
            "hint": r.hint + "…",
            "scopes": " ".join(r.scopes),
            "expires_at": r.expires_at.isoformat(timespec="minutes"),
            "status": "revoked" if r.revoked_at else "active",
        }
        for r in rows
    ]
    if cmd.as_json:
        emit_json(data)
    else:
        table(
            ["ID", "NAME", "TOKEN", "SCOPES", "EXPIRES", "STATUS"],
            [list(d.values()) for d in data],
            empty="no tokens",
        )


async def revoke_token_command(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        actor = await cmd.actor(session)
        owner = await get_user(session, cmd.args.user) if cmd.args.user else actor
        row = await revoke_pat(session, owner, cmd.args.id)
        revoked = Event(
            actor=actor.username,
            action="token_revoke",
            outcome="ok",
            target=owner.username,
            detail={"token_id": row.id},
        )
        await append_in(session, [revoked])
    print(f"revoked token {row.id} ({row.name})")
