"""`review list|show|approve|reject`."""

from __future__ import annotations

import argparse
import json

from registry import review
from registry.diff import VersionDiff
from registry.review import VersionReview
from switchboard.cli.context import Command
from switchboard.cli.output import emit_json, table


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("review", help="the security review queue and decisions")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="versions awaiting review").set_defaults(handler=list_queue)
    show = verbs.add_parser("show", help="what a version asks for and what changed")
    show.add_argument("ref", metavar="SERVER[@VERSION]")
    show.set_defaults(handler=show_version)
    approve = verbs.add_parser("approve", help="approve; it becomes the version callers get")
    approve.add_argument("ref", metavar="SERVER[@VERSION]")
    approve.add_argument("--reason", help="why it is safe (kept in the review history)")
    approve.set_defaults(handler=approve_version)
    reject = verbs.add_parser("reject", help="reject with a reason the publisher can act on")
    reject.add_argument("ref", metavar="SERVER[@VERSION]")
    reject.add_argument("--reason", required=True)
    reject.set_defaults(handler=reject_version)


async def list_queue(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        queue = await review.review_queue(session)
    if cmd.as_json:
        emit_json(queue)
        return
    table(
        ["SERVER", "VERSION", "STATUS", "KIND", "OWNER", "TOOLS", "PUBLISHED"],
        [
            [
                e.server,
                e.version,
                e.status,
                e.kind,
                e.owner,
                e.tools,
                e.published_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for e in queue
        ],
        empty="nothing awaits review",
    )


async def show_version(cmd: Command) -> None:
    async with cmd.services.sessions() as session:
        detail = await review.describe(session, cmd.args.ref)
    if cmd.as_json:
        emit_json(detail)
    else:
        print_review(detail)


async def approve_version(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        detail = await review.approve(
            session, cmd.args.ref, actor=await cmd.actor(session), reason=cmd.args.reason
        )
    if cmd.as_json:
        emit_json(detail)
        return
    print(f"approved {detail.server}@{detail.version}; it is now the live version")
    print_diff(detail.diff)


async def reject_version(cmd: Command) -> None:
    async with cmd.services.transaction() as session:
        detail = await review.reject(
            session, cmd.args.ref, actor=await cmd.actor(session), reason=cmd.args.reason
        )
    if cmd.as_json:
        emit_json(detail)
        return
    print(f"rejected {detail.server}@{detail.version}: {cmd.args.reason}")


def print_review(detail: VersionReview) -> None:
    policy = detail.policy
    print(f"{detail.server}@{detail.version}  [{detail.status}{', live' if detail.live else ''}]")
    print(f"  {detail.description}")
    print(f"  kind: {detail.kind}   slug: {detail.slug}   owner team: {detail.owner}")
    print(f"  published by {detail.published_by} at {detail.published_at:%Y-%m-%d %H:%M}")
    if detail.reviewed_by:
        print(f"  reviewed by {detail.reviewed_by}: {detail.review_reason or '(no reason given)'}")
    print(f"  egress: {', '.join(policy.get('egress', [])) or 'none (no network)'}")
    print(
        f"  limits: {policy.get('memoryMb')} MiB, {policy.get('cpus')} CPUs, "
        f"{policy.get('pidsLimit')} processes, {policy.get('callTimeoutSeconds')} s per call"
    )
    print("  filesystem: read-only root, private tmpfs")
    print(f"  secrets: {', '.join(detail.secrets) or 'none'}")
    if detail.tools_digest:
        print(f"  tools digest: {detail.tools_digest}")
    if detail.build_log:
        print("  sandbox build or start failed:")
        for line in detail.build_log.strip().splitlines()[-20:]:
            print(f"    | {line}")
    print(f"  tools ({len(detail.tools)}):" if detail.tools else "  tools: not yet discovered")
    for tool in detail.tools:
        hints = _hints(tool.get("annotations", {}))
        scopes = ", ".join(tool["scopes"]) or "-"
        print(f"    {tool['name']}  [{hints}]  scopes: {scopes}")
        if tool.get("description"):
            print(f"      {tool['description'].splitlines()[0][:100]}")
    print_diff(detail.diff)


def print_diff(diff: VersionDiff) -> None:
    if diff.against is None:
        print("  changes: first version to be reviewed; everything above is new")
        return
    if diff.empty:
        print(f"  changes against {diff.against}: none")
        return
    print(f"  changes against {diff.against}:")
    for name in diff.added:
        print(f"    + tool {name}")
    for name in diff.removed:
        print(f"    - tool {name}")
    for change in diff.changed:
        print(f"    ~ tool {change.name}: {', '.join(change.fields)} changed")
        for field, values in change.fields.items():
            print(f"        {field}: {_short(values['before'])} -> {_short(values['after'])}")
    for key, values in diff.policy.items():
        print(f"    ~ policy {key}: {_short(values['before'])} -> {_short(values['after'])}")


def _hints(annotations: dict[str, object]) -> str:
    hints = []
    if annotations.get("readOnlyHint"):
        hints.append("read-only")
    if annotations.get("destructiveHint"):
        hints.append("DESTRUCTIVE")
    if annotations.get("idempotentHint"):
        hints.append("idempotent")
    if annotations.get("openWorldHint"):
        hints.append("open-world")
    return ", ".join(hints) or "no hints: treat as destructive"


def _short(value: object, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
