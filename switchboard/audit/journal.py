"""Writes the registry's journal notes (`registry.journal`) into the audit log as part of the
transaction that made the changes: publish, review, grant, revoke, secret and team changes are
audited whichever interface (API, command line) made them."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from registry.journal import JOURNAL, take
from switchboard.audit.log import Event, append_sync


def _write(session: Session) -> None:
    entries = take(session)
    if entries:
        append_sync(
            session,
            [Event(e.actor, e.action, "ok", e.target, detail=e.detail or None) for e in entries],
        )


def _forget(session: Session) -> None:
    session.info.pop(JOURNAL, None)


def install() -> None:
    """Idempotent: every session of the process journals into the audit log from now on."""
    if not event.contains(Session, "before_commit", _write):
        event.listen(Session, "before_commit", _write)
        event.listen(Session, "after_rollback", _forget)
