"""What the catalogue's changes leave for the audit log, without the registry knowing of it.

Each change notes who did what on the session it runs in; whoever owns the audit log (the
`switchboard.audit.journal` hook) writes the notes in the same transaction when it commits, so
a change and its record are stored together or not at all, whichever interface made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

JOURNAL = "switchboard.journal"


@dataclass(frozen=True)
class Entry:
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


def note(session: AsyncSession, actor: str, action: str, target: str, **detail: Any) -> None:
    session.sync_session.info.setdefault(JOURNAL, []).append(Entry(actor, action, target, detail))


def take(session: Session) -> list[Entry]:
    """The notes of the transaction ending now (and forget them)."""
    entries: list[Entry] = session.info.pop(JOURNAL, [])
    return entries
