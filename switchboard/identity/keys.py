"""JWT signing keys: created, rotated and published as a JWKS, shared by every replica.

Keys live in the database (private halves sealed with the deployment's secret key), so all
replicas sign with the same key and verify each other's tokens. The newest key signs; a key
older than the rotation period is retired and a new one made; a retired key stays in the JWKS
until every token it could have signed has expired.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from joserfc.jwk import ECKey, KeySet
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.secretbox import SecretBox
from switchboard.db import Sessions, transaction
from switchboard.identity.models import SigningKey

ALGORITHM = "ES256"
RELOAD_SECONDS = 60.0
UNKNOWN_KID_RELOAD_SECONDS = 5.0
"""A token naming a key we lack triggers a reload at most this often, so garbage cannot."""


@dataclass(frozen=True)
class KeyRing:
    signing: ECKey
    verifying: KeySet
    public: list[dict[str, Any]]
    loaded_at: float


class SigningKeys:
    """The process's view of the key table, reloaded periodically and on an unknown `kid`."""

    def __init__(
        self, sessions: Sessions, box: SecretBox, *, rotate_after: timedelta, keep_for: timedelta
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._rotate_after = rotate_after
        self._keep_for = keep_for
        self._ring: KeyRing | None = None
        self._lock = anyio.Lock()

    async def ring(self, *, unknown_kid: str | None = None) -> KeyRing:
        ring = self._ring
        if ring is not None:
            age = time.monotonic() - ring.loaded_at
            stale = age > RELOAD_SECONDS or (
                _misses(ring, unknown_kid) and age > UNKNOWN_KID_RELOAD_SECONDS
            )
            if not stale:
                return ring
        async with self._lock:
            if self._ring is ring or self._ring is None:
                self._ring = await self._load()
            return self._ring

    async def rotate(self) -> str:
        """Retire the signing key now and make a new one; returns the new `kid`."""
        async with transaction(self._sessions) as session:
            for row in await self._live(session):
                row.retired_at = datetime.now(UTC)
                session.add(row)
            kid = await self._create(session)
        self._ring = None
        return kid

    async def _load(self) -> KeyRing:
        async with transaction(self._sessions) as session:
            rows = await self._live(session)
            newest = rows[0] if rows else None
            if newest is None or _age(newest) > self._rotate_after:
                for row in rows:
                    row.retired_at = datetime.now(UTC)
                    session.add(row)
                await self._create(session)
                rows = await self._live(session)
            kept = await self._published(session)
        signing = self._unseal(rows[0])
        public = [row.public_jwk for row in kept]
        return KeyRing(signing, KeySet.import_key_set({"keys": public}), public, time.monotonic())

    async def _live(self, session: AsyncSession) -> list[SigningKey]:
        rows = await session.exec(
            select(SigningKey)
            .where(col(SigningKey.retired_at).is_(None))
            .order_by(col(SigningKey.created_at).desc())
        )
        return list(rows.all())

    async def _published(self, session: AsyncSession) -> list[SigningKey]:
        cutoff = datetime.now(UTC) - self._keep_for
        rows = await session.exec(
            select(SigningKey)
            .where(col(SigningKey.retired_at).is_(None) | (col(SigningKey.retired_at) > cutoff))
            .order_by(col(SigningKey.created_at).desc())
        )
        return list(rows.all())

    async def _create(self, session: AsyncSession) -> str:
        kid = secrets.token_urlsafe(12)
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
        private = json.dumps(key.as_dict(private=True))
        session.add(
            SigningKey(
                kid=kid,
                sealed_private_jwk=self._box.seal(f"signing-key:{kid}", private),
                public_jwk=key.as_dict(private=False),
            )
        )
        await session.flush()
        return kid

    def _unseal(self, row: SigningKey) -> ECKey:
        data = json.loads(self._box.open(f"signing-key:{row.kid}", row.sealed_private_jwk))
        return ECKey.import_key(data)


def _misses(ring: KeyRing, kid: str | None) -> bool:
    return kid is not None and all(jwk.get("kid") != kid for jwk in ring.public)


def _age(row: SigningKey) -> timedelta:
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return datetime.now(UTC) - created
