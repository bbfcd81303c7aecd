"""argon2id password hashes, computed off the event loop (each takes tens of milliseconds)."""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 12
_DUMMY = _HASHER.hash("a password nobody has, so unknown users cost as much as known ones")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")


async def hash_password(password: str) -> str:
    check_strength(password)
    return await anyio.to_thread.run_sync(_HASHER.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the account has a password, so timing reveals nothing."""
    return await anyio.to_thread.run_sync(_verify, stored or _DUMMY, password, stored is not None)


def _verify(stored: str, password: str, real: bool) -> bool:
    try:
        return _HASHER.verify(stored, password) and real
    except (VerificationError, InvalidHashError):
        return False
