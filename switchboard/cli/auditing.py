"""`audit verify` and `audit export`: proving the log intact and taking it elsewhere."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sqlmodel import col, select

from registry.errors import RegistryError
from switchboard.audit.models import AuditRecord
from switchboard.audit.seals import describe
from switchboard.audit.verification import verify_sealed
from switchboard.cli.context import Command


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    verbs = audit.add_subparsers(dest="verb", required=True)
    verbs.add_parser(
        "verify",
        help="check every record's hash chain and the newest seal; exit 1 at the first break",
    ).set_defaults(handler=verify_command)
    export = verbs.add_parser("export", help="write records as JSON Lines to standard output")
    export.add_argument("--since", help="only records at or after this ISO 8601 time")
    export.set_defaults(handler=export_command)


async def verify_command(cmd: Command) -> None:
    result = await verify_sealed(cmd.services.sessions, cmd.services.audit_seal_key)
    if result.broken is not None:
        raise RegistryError(
            f"audit log broken at record {result.broken.seq}: it {result.broken.problem} "
            f"({result.checked} records before it are intact)"
        )
    if result.seal is None:
        sealing = "not sealed yet (`switchboard serve` seals it)"
    else:
        sealing = f"sealed through {describe(result.seal)}"
    print(f"audit log intact: {result.checked} records, {sealing}")


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RegistryError(
            f"--since {text!r} is not an ISO 8601 time such as 2026-12-01"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def export_command(cmd: Command) -> None:
    since = parse_since(cmd.args.since)
    query = select(AuditRecord).order_by(col(AuditRecord.seq))
    if since is not None:
        query = query.where(col(AuditRecord.at) >= since)
    async with cmd.services.sessions() as session:
        rows = await session.exec(query)
        for row in rows:
            sys.stdout.write(json.dumps(row.model_dump(mode="json"), sort_keys=True) + "\n")
