"""Seals: the audit log's tip, attested with a key the database does not hold.

A hash chain shows an edit in the middle, but not the removal of its newest records, and not
a chain recomputed from an edited record on: anyone who can write the table can do either and
the chain still checks. A seal records where the chain ended (`seq`, `hash`) with an HMAC keyed
by the deployment's secret key, which lives in a file beside the service, not in the database.
`switchboard serve` seals the tip every `SWITCHBOARD_AUDIT_SEAL_SECONDS` and when it stops; a
seal is only ever made on a chain that still reaches the seal before it, so a log that lost
sealed records is reported, never sealed over. What the last seal cannot cover are records
written after it, and a database rolled back as a whole (seals included) to an older state:
for those, keep the `--expect` witness `switchboard audit verify` prints somewhere the
database's administrators cannot write. Once a refusal has been looked into,
`switchboard audit reseal` records why in the log and seals it as it now is, so that sealing
can go on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime

import anyio
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from switchboard.audit.log import APPEND_ATTEMPTS, Event, append_in, as_utc, read_tip
from switchboard.audit.models import AuditRecord, AuditSeal
from switchboard.db import Sessions, transaction

logger = logging.getLogger(__name__)

_CONTEXT = b"switchboard audit seal v1"
FINAL_SEAL_SECONDS = 5.0
"""How long a stopping server tries to seal the records written last."""


class SealRefusedError(RuntimeError):
    """The chain no longer reaches the newest seal; sealing it now would vouch for the loss."""


def seal_key(secret_key: bytes) -> bytes:
    """A key for seals only, so that a seal never doubles as anything the secret key makes."""
    return hmac.new(secret_key, _CONTEXT, hashlib.sha256).digest()


def _mac(key: bytes, seq: int, record_hash: str, sealed_at: datetime) -> str:
    message = f"{seq}:{record_hash}:{as_utc(sealed_at).isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def authentic(seal: AuditSeal, key: bytes) -> bool:
    return hmac.compare_digest(seal.mac, _mac(key, seal.seq, seal.hash, seal.sealed_at))


def describe(seal: AuditSeal) -> str:
    when = as_utc(seal.sealed_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"record {seal.seq} (hash {seal.hash[:16]}…, sealed {when})"


async def newest_seal(session: AsyncSession) -> AuditSeal | None:
    """The seal made last: after a reseal, one may reach less far than those before it."""
    query = select(AuditSeal).order_by(col(AuditSeal.id).desc())
    return (await session.exec(query.limit(1))).first()


async def seal(sessions: Sessions, key: bytes) -> AuditSeal | None:
    """Seal the chain's tip and return the newest seal (`None` while the log is empty).

    Raises `SealRefusedError` when the newest seal is not this key's or its record is gone or
    changed."""
    async with transaction(sessions) as session:
        last = await newest_seal(session)
        seq, tip_hash = await read_tip(session)
        if last is not None:
            problem = await _broken_since(session, last, key)
            if problem is not None:
                raise SealRefusedError(problem)
            if seq == last.seq:
                return last
        if seq == 0:
            return None
        return _add_seal(session, key, seq, tip_hash)


def _add_seal(session: AsyncSession, key: bytes, seq: int, record_hash: str) -> AuditSeal:
    sealed_at = datetime.now(UTC)
    new = AuditSeal(
        seq=seq, hash=record_hash, sealed_at=sealed_at, mac=_mac(key, seq, record_hash, sealed_at)
    )
    session.add(new)
    return new


async def reseal(sessions: Sessions, key: bytes, *, actor: str, reason: str) -> str | None:
    """Append an `audit.reseal` record naming what `seal` refuses and why it is accepted, and
    seal the log at that record. Returns the problem accepted; `None` (and writes nothing)
    when there is none. Breaks inside the chain stay: no seal vouches for those."""
    for _ in range(APPEND_ATTEMPTS):
        try:
            async with transaction(sessions) as session:
                return await _reseal_in(session, key, actor, reason)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not append to the audit log after {APPEND_ATTEMPTS} attempts")


async def _reseal_in(session: AsyncSession, key: bytes, actor: str, reason: str) -> str | None:
    last = await newest_seal(session)
    problem = None if last is None else await _broken_since(session, last, key)
    if last is None or problem is None:
        return None
    when = as_utc(last.sealed_at).isoformat()
    previous = {"seq": last.seq, "hash": last.hash, "sealed_at": when}
    detail = {"reason": reason, "problem": problem, "previous_seal": previous}
    (record,) = await append_in(session, [Event(actor, "audit.reseal", "ok", detail=detail)])
    _add_seal(session, key, record.seq or 0, record.hash)
    return problem


async def _broken_since(session: AsyncSession, last: AuditSeal, key: bytes) -> str | None:
    if not authentic(last, key):
        return (
            f"the seal of {describe(last)} was not made with this deployment's secret key "
            "(a forged seal, or a secret key file other than the one that sealed the log)"
        )
    record = await session.get(AuditRecord, last.seq)
    if record is None:
        return f"the log lost its newest records: there is no {describe(last)}"
    if record.hash != last.hash:
        return f"the chain was rewritten: record {last.seq} is not {describe(last)}"
    return None


async def seal_forever(sessions: Sessions, key: bytes, every: float) -> None:
    """Seal now, every `every` seconds, and once more when cancelled. A refusal is logged as
    an error each time, and nothing is sealed until someone has looked (`audit reseal`)."""
    try:
        while True:
            await _seal_logged(sessions, key)
            await anyio.sleep(every)
    finally:
        with anyio.move_on_after(FINAL_SEAL_SECONDS, shield=True):
            await _seal_logged(sessions, key)


async def _seal_logged(sessions: Sessions, key: bytes) -> None:
    try:
        await seal(sessions, key)
    except SealRefusedError as exc:
        logger.error(
            "the audit log was not sealed: %s; see `switchboard audit verify`, and once that is "
            "looked into, `switchboard audit reseal --reason ...`",
            exc,
        )
    except SQLAlchemyError:
        logger.exception("could not seal the audit log; trying again later")
