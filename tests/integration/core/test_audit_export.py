"""`switchboard audit export` on both databases: which records `--since` selects, and records a
reader can check with nothing but the export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import anyio
import pytest

from switchboard.audit.log import Event, append, as_utc, record_hash
from switchboard.services import open_services
from switchboard.settings import Settings
from tests.integration.core.test_cli import fails, run


def event(action: str) -> Event:
    """A record whose target and detail JSON must carry faithfully (not ASCII, a float, null)."""
    detail = {"ratio": 0.1, "scopes": ["a", "b"], "none": None}
    return Event("alice", action, "ok", target="café ✓", detail=detail)


def append_events(settings: Settings, *actions: str) -> list[datetime]:
    """One record per action, each in its own transaction; returns when each was written."""

    async def go() -> list[datetime]:
        async with open_services(settings) as services:
            return [
                as_utc((await append(services.sessions, event(action)))[0].at) for action in actions
            ]

    return anyio.run(go)


def exported_actions(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    return [
        json.loads(line)["action"] for line in run(capsys, "audit", "export", *argv).splitlines()
    ]


def test_since_is_one_instant_whatever_its_offset(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _, second = append_events(cli_env, "test.first", "test.second")
    forms = [
        second.isoformat().replace("+00:00", "Z"),
        second.replace(tzinfo=None).isoformat(),
        *(second.astimezone(timezone(timedelta(hours=h))).isoformat() for h in (2, -5, 14)),
    ]
    for since in forms:
        assert exported_actions(capsys, "--since", since) == ["test.second"], since
    later = (second + timedelta(microseconds=1)).astimezone(timezone(timedelta(hours=-5)))
    assert exported_actions(capsys, "--since", later.isoformat()) == []


def test_since_out_of_range_in_utc_is_refused(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for since in ("0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"):
        assert "falls outside the years 1 to 9999" in fails(
            capsys, "audit", "export", "--since", since
        )
    assert "is not an ISO 8601 time" in fails(capsys, "audit", "export", "--since", "yesterday")


def test_each_exported_record_hashes_to_its_own_hash(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append_events(cli_env, "test.first", "test.second")
    exported = [json.loads(line) for line in run(capsys, "audit", "export").splitlines()]
    assert [record["action"] for record in exported] == ["test.first", "test.second"]
    for record in exported:
        assert datetime.fromisoformat(record["at"]).utcoffset() == timedelta(0), record["at"]
        assert record_hash(record) == record["hash"]
    assert exported[1]["prev_hash"] == exported[0]["hash"]


def test_a_reader_that_stops_reading_ends_the_export_quietly(cli_env: Settings) -> None:
    append_events(cli_env, "test.first")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "switchboard.cli.main", "audit", "export"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
