"""Host-wide build locks, so concurrent callers (threads or processes) build a recipe once."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(key: str) -> Iterator[None]:
    """Hold the lock named `key`; every call opens its own file, so threads wait too."""
    directory = Path(tempfile.gettempdir()) / "switchboard-image-locks"
    directory.mkdir(exist_ok=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    with open(directory / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
