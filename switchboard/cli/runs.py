"""`run start|list|show|events|approve|deny|cancel`: agent runs from the command line.

The command line works on the database as the acting user (`--as`); a server process
(`switchboard serve`) picks up what it queues: new runs, and runs whose approvals are decided.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from agents.runs import service
from agents.runs.events import EventLog
from agents.runs.views import RunView
from registry.errors import InvalidDocumentError, Problem
from registry.models import Role
from switchboard.audit.log import Event, append
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json, table
from switchboard.identity.accounts import get_user


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("run", help="launch agents and follow, approve or cancel runs")
    verbs = parser.add_subparsers(dest="verb", required=True)
    start = verbs.add_parser("start", help="queue a run of an agent; a server runs it")
    start.add_argument("agent", metavar="AGENT")
    start.add_argument(
        "--answer",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an answer to the agent's launch form (repeat for each question)",
    )
    start.add_argument("--version", help="agent version (default: the newest)")
    start.set_defaults(handler=start_run)
    listing = verbs.add_parser("list", help="your runs, newest first")
    listing.add_argument("--all", action="store_true", help="everyone's (security and admin)")
    listing.add_argument("--status", help="only runs in this status")
    listing.set_defaults(handler=list_runs)
    for name, handler, text in (
        ("show", show_run, "a run, its answers, outcome and approvals"),
        ("events", run_events, "what a run did so far, step by step"),
        ("cancel", cancel_run, "stop a run now"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("run", metavar="RUN")
        verb.set_defaults(handler=handler)
    for name, approve in (("approve", True), ("deny", False)):
        verb = verbs.add_parser(name, help=f"{name} a tool call a run waits on")
        verb.add_argument("run", metavar="RUN")
        verb.add_argument("approval", type=int, metavar="APPROVAL")
        verb.add_argument("--note", help="why (the model is told when denied)")
        verb.set_defaults(handler=decide, approve=approve)


async def _audit(cmd: Command, event: Event) -> None:
    await append(cmd.services.sessions, event)


async def _role(cmd: Command) -> Role:
    async with cmd.services.sessions() as session:
        return Role((await get_user(session, cmd.args.actor)).role)


def parse_answers(pairs: list[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidDocumentError(
                "the answers", [Problem(f"/{key}", "write each answer as `--answer KEY=VALUE`")]
            )
        answers[key] = value
    return answers


async def start_run(cmd: Command) -> None:
    view = await service.start(
        cmd.services,
        lambda event: _audit(cmd, event),
        username=cmd.args.actor,
        agent=cmd.args.agent,
        answers=parse_answers(cmd.args.answer),
        version=cmd.args.version,
    )
    if cmd.as_json:
        emit_json(view)
    else:
        print(f"queued run {view.id} of {view.agent}@{view.version}; a server runs it")
        print(f"follow it with: switchboard run events {view.id}")


async def list_runs(cmd: Command) -> None:
    views = await service.list_runs(
        cmd.services,
        cmd.args.actor,
        role=await _role(cmd),
        everyone=cmd.args.all,
        status=cmd.args.status,
    )
    if cmd.as_json:
        emit_json(views)
        return
    table(
        ["RUN", "AGENT", "VERSION", "USER", "STATUS", "CREATED"],
        [
            [v.id, v.agent, v.version, v.user, v.status, v.created_at.strftime("%Y-%m-%d %H:%M")]
            for v in views
        ],
        empty="no runs",
    )


async def _visible(cmd: Command) -> Any:
    return await service.visible_run(cmd.services, cmd.args.run, cmd.args.actor, await _role(cmd))


async def show_run(cmd: Command) -> None:
    view = await service.show(cmd.services, await _visible(cmd))
    if cmd.as_json:
        emit_json(view)
    else:
        print_run(view)


def print_run(view: RunView) -> None:
    print(f"run {view.id}: {view.agent}@{view.version} for {view.user}, {view.status}")
    if view.reason:
        print(f"  {view.reason}")
    for key, value in view.answers.items():
        print(f"  {key}: {value}")
    if view.output is not None:
        print(f"  output: {json.dumps(view.output, ensure_ascii=False)}")
    for approval in view.approvals:
        decided = f" by {approval.decided_by}" if approval.decided_by else ""
        print(
            f"  approval {approval.id}: {approval.tool} "
            f"{json.dumps(approval.arguments, ensure_ascii=False)} — {approval.status}{decided}"
        )


async def run_events(cmd: Command) -> None:
    run = await _visible(cmd)
    events = await EventLog(cmd.services.sessions).history(run.id)
    if cmd.as_json:
        emit_json([{"seq": e.seq, "at": e.at, "kind": e.kind, **e.data} for e in events])
        return
    for event in events:
        details = ", ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
        print(f"{event.seq:>4} {event.at:%H:%M:%S} {event.kind}: {details}")


async def cancel_run(cmd: Command) -> None:
    view = await service.cancel(
        cmd.services,
        lambda event: _audit(cmd, event),
        await _visible(cmd),
        by=cmd.args.actor,
        role=await _role(cmd),
    )
    if cmd.as_json:
        emit_json(view)
    else:
        print(f"cancelled run {view.id}")


async def decide(cmd: Command) -> None:
    view, resume = await service.decide(
        cmd.services,
        lambda event: _audit(cmd, event),
        await _visible(cmd),
        cmd.args.approval,
        by=cmd.args.actor,
        approve=cmd.args.approve,
        note=cmd.args.note,
    )
    if cmd.as_json:
        emit_json(view)
        return
    verb = "approved" if cmd.args.approve else "denied"
    then = "; the run resumes" if resume else "; the run waits for its other approvals"
    print(f"{verb} approval {cmd.args.approval} of run {view.id}{then}")
