"""Encryption at rest for server secrets (AES-256-GCM), keyed by a file in the data dir."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import RegistryError

_NONCE = 12


class SecretKeyError(RegistryError):
    """The key file is missing, unreadable or malformed; stored secrets cannot be used."""

    status_code = 500


def load_or_create_key(path: Path) -> bytes:
    """Read the key, creating it (mode 0600, never overwriting) on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs below
        else:
            with os.fdopen(fd, "w") as file:
                file.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    try:
        key = base64.urlsafe_b64decode(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise SecretKeyError(f"cannot read the secret key from {path}: {exc}") from exc
    if len(key) != 32:
        raise SecretKeyError(
            f"{path} does not hold a 32-byte base64 key; restore it from backup "
            "(secrets stored with another key cannot be decrypted)"
        )
    return key


class SecretBox:
    """Seals a value to its owner (server and name), so a ciphertext moved elsewhere won't open."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, context: str, plaintext: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, context: str, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode()).decode()
        except InvalidTag as exc:
            raise SecretKeyError(
                f"secret {context!r} cannot be decrypted: it was stored with another key "
                "or altered; set it again"
            ) from exc
