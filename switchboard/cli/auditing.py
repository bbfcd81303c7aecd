"""`audit verify` and `audit export`: proving the log intact and taking it elsewhere."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import datetime

from sqlmodel import col, select

from registry.errors import RegistryError
from switchboard.audit.log import as_utc, hashed_at
from switchboard.audit.models import AuditRecord
from switchboard.audit.seals import describe, reseal
from switchboard.audit.verification import verify_sealed
from switchboard.cli.context import Command

MAX_REASON = 2000
SIGPIPE_STATUS = 128 + 13
"""What a shell reports for a process that SIGPIPE ended."""
MAX_SEQ = 2**31 - 1
"""The largest record number the `seq` column (a 32-bit integer on PostgreSQL) holds."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    verbs = audit.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser(
        "verify",
        help="check every record's hash chain and the newest seal; exit 1 at the first break",
    )
    check.add_argument(
        "--expect",
        metavar="RECORD:HASH",
        help="also check that this record still has this hash: a line an earlier verify "
        "printed, kept where the database's administrators cannot write",
    )
    check.set_defaults(handler=verify_command)
    reseal = verbs.add_parser(
        "reseal",
        help="after looking into a log `serve` refuses to seal: record why it is accepted as it "
        "is now, and seal it",
    )
    reseal.add_argument("--reason", required=True, help="what was found; kept in the log")
    reseal.set_defaults(handler=reseal_command)
    export = verbs.add_parser("export", help="write records as JSON Lines to standard output")
    export.add_argument(
        "--since", help="only records at or after this ISO 8601 time (UTC unless it has an offset)"
    )
    export.set_defaults(handler=export_command)


async def verify_command(cmd: Command) -> None:
    expected = parse_expect(cmd.args.expect)
    result = await verify_sealed(cmd.services.sessions, cmd.services.audit_seal_key)
    if result.broken is not None:
        raise RegistryError(
            f"audit log broken at record {result.broken.seq}: it {result.broken.problem} "
            f"({result.checked} records before it are intact)"
        )
    if expected is not None:
        await check_witness(cmd, *expected)
    if result.seal is None:
        sealing = "not sealed yet (`switchboard serve` seals it)"
    else:
        sealing = f"sealed through {describe(result.seal)}"
    print(f"audit log intact: {result.checked} records, {sealing}")
    if expected is not None:
        print(f"record {expected[0]} still has the hash you kept")
    if result.checked:
        print(
            f"to check later: switchboard audit verify --expect {result.checked}:{result.last_hash}"
        )


def parse_expect(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, record_hash = text.strip().partition(":")
    if (
        not re.fullmatch(r"[1-9][0-9]{0,17}", seq)
        or int(seq) > MAX_SEQ
        or not re.fullmatch(r"[0-9a-f]{64}", record_hash)
    ):
        raise RegistryError(
            f"--expect {text!r} is not RECORD:HASH, a record number (1 to {MAX_SEQ}) and its "
            "64 hex digits as `audit verify` prints them"
        )
    return int(seq), record_hash


async def check_witness(cmd: Command, seq: int, record_hash: str) -> None:
    async with cmd.services.sessions() as session:
        found = await session.get(AuditRecord, seq)
    if found is None:
        raise RegistryError(
            f"record {seq}, which you kept, is missing: the log lost its newest records, or the "
            "database was rolled back"
        )
    if found.hash != record_hash:
        raise RegistryError(
            f"record {seq} no longer has the hash you kept: the log was rewritten, or the "
            "database was rolled back and written again"
        )


async def reseal_command(cmd: Command) -> None:
    reason = cmd.args.reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise RegistryError(
            f"--reason must say what was found, in at most {MAX_REASON} characters; "
            "it is kept in the audit log"
        )
    async with cmd.services.transaction() as session:
        actor = (await cmd.actor(session)).username
    services = cmd.services
    accepted = await reseal(services.sessions, services.audit_seal_key, actor=actor, reason=reason)
    if accepted is None:
        print("nothing to reseal: the log still reaches its newest seal")
        return
    print(f"resealed; accepted: {accepted}")


def parse_since(text: str | None) -> datetime | None:
    """The instant in UTC, a time without an offset being UTC: SQLite compares the stored UTC
    times as text, so an offset left on the value would move the cut by that many hours."""
    if text is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise RegistryError(
            f"--since {text!r} is not an ISO 8601 time such as 2026-12-01 or 2026-12-01T09:30+02:00"
        ) from None
    except OverflowError:
        raise RegistryError(
            f"--since {text!r} falls outside the years 1 to 9999 once converted to UTC; "
            "give a time within them"
        ) from None


async def export_command(cmd: Command) -> None:
    """A reader that stops reading (`| head`) ends the export quietly with status 141, as a
    tool killed by SIGPIPE would: a `pipefail` script still sees the export did not finish."""
    since = parse_since(cmd.args.since)
    query = select(AuditRecord).order_by(col(AuditRecord.seq))
    if since is not None:
        query = query.where(col(AuditRecord.at) >= since)
    try:
        async with cmd.services.sessions() as session:
            for row in await session.exec(query):
                exported = row.model_dump(mode="json") | {"at": hashed_at(row.at)}
                sys.stdout.write(json.dumps(exported, sort_keys=True) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # What is still buffered would fail again when Python flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(SIGPIPE_STATUS)
