"""Opaque tokens Switchboard hands a caller and later takes back from them (a server's
`requestState`, a task's id): sealed with the secret key (AES-GCM) to a binding that names who
may present them, so a caller can neither read nor alter one, nor present another's.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from registry.secretbox import SecretBox, SecretKeyError


class Seals:
    """Tokens `<prefix><base64url>` for one `purpose`, each valid as long as chosen at sealing."""

    def __init__(
        self, box: SecretBox, purpose: str, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._box = box
        self._purpose = purpose
        self._prefix = prefix
        self._clock = clock

    def seal(self, binding: str, payload: dict[str, Any], lifetime: float) -> str:
        plain = json.dumps({**payload, "expires": self._clock() + lifetime})
        sealed = self._box.seal(self._context(binding), plain)
        return self._prefix + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, binding: str, token: str) -> dict[str, Any] | None:
        """The payload inside `token`, or `None` if it is not one of ours, was sealed to another
        binding, was altered, or has expired."""
        if not token.startswith(self._prefix):
            return None
        encoded = token.removeprefix(self._prefix)
        try:
            sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            payload = json.loads(self._box.open(self._context(binding), sealed))
        except (binascii.Error, ValueError, SecretKeyError):
            return None
        if not isinstance(payload, dict):
            return None
        expires = payload.pop("expires", None)
        if not isinstance(expires, float | int) or expires < self._clock():
            return None
        return payload

    def _context(self, binding: str) -> str:
        return f"{self._purpose}\n{binding}"
