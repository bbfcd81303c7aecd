"""The `switchboard` command line, run in-process against both databases."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.audit.seals import seal
from switchboard.cli.main import main
from switchboard.identity.accounts import get_user
from switchboard.services import open_services
from switchboard.settings import Settings
from tests.audit_tampering import allow_appends, drop_append_only_guards, refuse_appends

FIXTURES = Path(__file__).parents[2] / "fixtures"
TIME = str(FIXTURES / "manifests" / "time.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    assert caught.value.code not in (0, None)
    return str(caught.value.code)


def test_publish_review_grant_flow(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert "awaiting security review" in run(capsys, "publish", TIME, "--no-discover")
    assert "already published" in fails(capsys, "publish", TIME, "--no-discover")

    assert "discovered already" in fails(capsys, "discover", "time@2025.9.25")
    queue = json.loads(run(capsys, "--json", "review", "list"))
    assert [(e["slug"], e["status"]) for e in queue] == [("time", "pending")]
    shown = run(capsys, "review", "show", "time")
    assert "limits: 128 MiB, 0.25 CPUs" in shown
    assert "egress: none (no network)" in shown
    assert "first version to be reviewed" in shown

    assert "needs a reason" not in run(capsys, "review", "approve", "time", "--reason", "fine")
    assert "it is approved" in fails(capsys, "review", "approve", "time@2025.9.25")
    assert "no scope nope" in fails(capsys, "grant", "default", "time", "--scopes", "nope")
    assert "with scopes: time:convert" in run(
        capsys, "grant", "default", "time", "--scopes", "time:convert"
    )
    listing = run(capsys, "grants")
    assert "default  io.github.modelcontextprotocol/time  time:convert  alice" in listing
    assert "revoked" in run(capsys, "revoke", "default", "time")
    assert "no grants" in run(capsys, "grants")
    servers = json.loads(run(capsys, "--json", "server", "list"))
    assert servers[0]["versions"][0]["live"] is True


def test_teams_and_visible_tools(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert "created team ops" in run(capsys, "team", "create", "ops")
    assert "already exists" in fails(capsys, "team", "create", "ops")
    assert json.loads(run(capsys, "--json", "team", "list")) == ["default", "ops"]
    assert "bob is a member of ops" in run(capsys, "team", "add", "ops", "bob")
    assert "can see no tools" in run(capsys, "tools", "bob")
    assert "does not exist" in fails(capsys, "publish", TIME, "--no-discover", "--team", "nobody")


def test_user_help_says_what_disable_and_enable_do(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["user", "--help"])
    assert caught.value.code == 0
    listing = " ".join(capsys.readouterr().out.split())
    assert "disable an account (its sessions and tokens stop working)" in listing
    assert "re-enable an account (its unexpired sessions and tokens work again)" in listing


def test_team_changes_and_the_first_admin_are_audited(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    password = run(capsys, "init").split("with password ")[1].split()[0]
    run(capsys, "init")
    run(capsys, "team", "create", "ops")
    fails(capsys, "team", "create", "ops")
    run(capsys, "team", "add", "ops", "bob")
    run(capsys, "team", "add", "ops", "bob")
    lines = run(capsys, "audit", "export").splitlines()
    exported = [json.loads(line) for line in lines]
    assert [(r["actor"], r["action"], r["target"], r["detail"]) for r in exported] == [
        ("alice", "user_create", "admin", {"role": "admin"}),
        ("switchboard", "team.member.add", "default/admin", {}),
        ("alice", "team.create", "ops", {}),
        ("alice", "team.member.add", "ops/bob", {}),
    ]
    assert password not in "".join(lines)


def test_invalid_manifest_names_file_and_pointer(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "server.json"
    bad.write_text(json.dumps({"name": "x/y", "version": "1", "_meta": {}}))
    message = fails(capsys, "publish", str(bad))
    assert str(bad) in message
    assert "/description: required field is missing" in message
    bad.write_text(json.dumps({"name": "x/y", "version": "1", "description": "d"}))
    assert "declare at least one entry in `packages` or `remotes`" in fails(
        capsys, "publish", str(bad)
    )
    assert "catalogue is empty" in run(capsys, "server", "list")


def test_secrets_from_stdin_and_env(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(capsys, "publish", str(FIXTURES / "manifests" / "npm-filesystem.json"), "--no-discover")
    assert "BRAVE_API_KEY  MISSING" in run(capsys, "secret", "list", "brave-search")
    monkeypatch.setenv("MY_KEY", "abc")
    assert "(encrypted)" in run(
        capsys, "secret", "set", "brave-search", "BRAVE_API_KEY", "--from-env", "MY_KEY"
    )
    assert "BRAVE_API_KEY  stored" in run(capsys, "secret", "list", "brave-search")
    assert "not set or empty" in fails(
        capsys, "secret", "set", "brave-search", "BRAVE_API_KEY", "--from-env", "NOPE"
    )


def test_init_creates_the_first_admin_once(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init"])
    first = capsys.readouterr().out
    assert "created admin account 'admin' with password " in first
    main(["init"])
    assert "an admin account exists" in capsys.readouterr().out
    main(["user", "list"])
    assert "admin  admin  active  password" in capsys.readouterr().out


def on_database(settings: Settings, change: Callable[[AsyncConnection], Awaitable[None]]) -> None:
    async def go() -> None:
        async with open_services(settings) as services, services.engine.begin() as connection:
            await change(connection)

    anyio.run(go)


def password_hash(settings: Settings, username: str) -> str | None:
    async def go() -> str | None:
        async with open_services(settings) as services, services.sessions() as session:
            return (await get_user(session, username)).password_hash

    return anyio.run(go)


def test_account_and_token_changes_fail_when_their_record_does(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["user", "create", "bob"])
    main(["token", "create", "--name", "ci", "--scope", "mcp"])
    capsys.readouterr()
    password = password_hash(cli_env, "bob")
    monkeypatch.setattr("sys.stdin", io.StringIO("a new password that is long enough\n"))
    on_database(cli_env, refuse_appends)
    for argv in (
        ["user", "create", "ivy"],
        ["user", "disable", "bob"],
        ["user", "password", "bob"],
        ["token", "create", "--name", "nightly", "--scope", "mcp"],
        ["token", "revoke", "1"],
    ):
        with pytest.raises(DBAPIError, match="appends refused"):
            main(argv)
    on_database(cli_env, allow_appends)
    users = json.loads(run(capsys, "--json", "user", "list"))
    assert [(u["name"], u["status"]) for u in users] == [("alice", "active"), ("bob", "active")]
    assert password_hash(cli_env, "bob") == password
    tokens = json.loads(run(capsys, "--json", "token", "list"))
    assert [(t["id"], t["status"]) for t in tokens] == [(1, "active")]
    actions = [json.loads(line)["action"] for line in run(capsys, "audit", "export").splitlines()]
    assert actions == ["user_create", "token_create"]


def test_audit_verify_and_export(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init"])
    main(["user", "create", "ivy", "--role", "developer"])
    capsys.readouterr()
    main(["audit", "verify"])
    assert "audit log intact: 3 records" in capsys.readouterr().out  # init's admin, then ivy
    main(["audit", "export", "--since", "2000-01-01"])
    *_, line = capsys.readouterr().out.splitlines()
    assert '"action": "user_create"' in line
    assert '"target": "ivy"' in line


def test_audit_verify_names_the_seal_and_reseal_accepts_a_loss(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["user", "create", "ivy", "--role", "developer"])  # the one record

    async def seal_then_delete(delete: bool) -> None:
        async with open_services(cli_env) as services:
            await seal(services.sessions, services.audit_seal_key)
            if delete:
                async with services.engine.begin() as connection:
                    await drop_append_only_guards(connection)
                    await connection.execute(text("DELETE FROM audit_record"))

    anyio.run(seal_then_delete, False)
    capsys.readouterr()
    intact = run(capsys, "audit", "verify")
    assert "audit log intact: 1 records, sealed through record 1 (hash" in intact
    witness = intact.splitlines()[-1].removeprefix("to check later: switchboard audit verify ")
    assert witness.startswith("--expect 1:")
    expect = witness.removeprefix("--expect ")
    assert "record 1 still has the hash you kept" in run(
        capsys, "audit", "verify", "--expect", expect
    )
    assert "is not RECORD:HASH" in fails(capsys, "audit", "verify", "--expect", "1:abc")
    for seq in ("0", "2147483648", "9" * 40):
        assert "is not RECORD:HASH" in fails(
            capsys, "audit", "verify", "--expect", f"{seq}:{'0' * 64}"
        )
    assert "record 7, which you kept, is missing" in fails(
        capsys, "audit", "verify", "--expect", "7:" + "0" * 64
    )
    anyio.run(seal_then_delete, True)
    assert "broken at record 1: it is missing: the log was sealed through record 1" in fails(
        capsys, "audit", "verify"
    )
    assert "must say what was found" in fails(capsys, "audit", "reseal", "--reason", " ")
    resealed = run(capsys, "audit", "reseal", "--reason", "restored last night's backup")
    assert "resealed; accepted: the log lost its newest records: there is no record 1" in resealed
    assert "audit log intact: 1 records, sealed through record 1" in run(capsys, "audit", "verify")
    assert "record 1 no longer has the hash you kept" in fails(
        capsys, "audit", "verify", "--expect", expect
    )
    assert "nothing to reseal" in run(capsys, "audit", "reseal", "--reason", "again")
    (line,) = run(capsys, "audit", "export").splitlines()
    exported = json.loads(line)
    assert (exported["action"], exported["actor"]) == ("audit.reseal", "alice")
    assert exported["detail"]["reason"] == "restored last night's backup"
    assert exported["detail"]["previous_seal"]["seq"] == 1
