"""`serve`, `init` and `migrate`: running the service and preparing its data."""

from __future__ import annotations

import argparse
import ipaddress

import uvicorn

from registry.models import Role
from switchboard.audit.log import Event, append_in
from switchboard.cli.context import Command
from switchboard.heap import settle_after_startup
from switchboard.identity.accounts import ensure_first_admin
from switchboard.serving import uvicorn_options
from switchboard.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the web app, API and MCP endpoint")
    serve.add_argument("--host", help="bind address (default: SWITCHBOARD_HOST)")
    serve.add_argument("--port", type=int, help="port (default: SWITCHBOARD_PORT)")
    serve.set_defaults(sync_handler=serve_command)
    init = commands.add_parser(
        "init", help="create the data dir, secret key, database schema and default team"
    )
    init.set_defaults(handler=init_command)
    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest")
    migrate.set_defaults(handler=migrate_command)


def serve_command(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if not _is_loopback(host) and not settings.secure_cookies:
        print(
            f"warning: serving {host} over plain HTTP: passwords, cookies and tokens would cross "
            "the network unencrypted. Put Switchboard behind HTTPS and set "
            "SWITCHBOARD_PUBLIC_URL=https://..."
        )
    settings = settings.model_copy(update={"host": host, "port": port})
    from switchboard.app import create_app

    app = create_app(settings, on_ready=settle_after_startup)
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def init_command(cmd: Command) -> None:
    """Idempotent: safe to run on every `make up`; it never touches stored records. The admin
    it creates is recorded as made by the acting login, which need not be an account."""
    settings = cmd.services.settings
    print(f"data dir {settings.data_dir.absolute()} ready; schema up to date")
    print(f"default team {settings.default_team!r} exists")
    async with cmd.services.transaction() as session:
        created = await ensure_first_admin(session, settings)
        if created is not None:
            admin = Event(
                actor=cmd.args.actor,
                action="user_create",
                outcome="ok",
                target=settings.admin_username,
                detail={"role": Role.admin.value},
            )
            await append_in(session, [admin])
    if created is None:
        print("an admin account exists")
    elif settings.admin_password is None:
        print(
            f"created admin account {settings.admin_username!r} with password {created}\n"
            "  (shown once: store it now, or change it with `switchboard user password`)"
        )
    else:
        print(f"created admin account {settings.admin_username!r} (SWITCHBOARD_ADMIN_PASSWORD)")


async def migrate_command(cmd: Command) -> None:
    print("database schema is up to date")
