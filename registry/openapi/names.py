"""Tool names that MCP clients accept: `[A-Za-z0-9_.-]`, at most 128 characters, unique."""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 128
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_INVALID = re.compile(r"[^A-Za-z0-9_.-]")
_UNDERSCORES = re.compile(r"_{2,}")
_HASH_LENGTH = 8


def sanitise(name: str) -> str:
    """`name` with every other character replaced by `_`, runs collapsed, ends trimmed.

    May return `""` when nothing usable is left (an operationId in another script).
    """
    return _UNDERSCORES.sub("_", _INVALID.sub("_", name)).strip("_")


def shorten(name: str) -> str:
    """`name` cut to 128 characters; a hash of the whole keeps cut names apart."""
    if len(name) <= MAX_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{name[: MAX_LENGTH - _HASH_LENGTH - 1]}_{digest}"


def tool_name(operation_id: str | None, method: str, path: str) -> str:
    """The name an operation is published under: its operationId, else `method_path`."""
    name = sanitise(operation_id or "")
    if not name:
        name = sanitise(f"{method}_{path}")
    return shorten(name)


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... if taken; the chosen name is added to `taken`."""
    candidate, counter = name, 1
    while candidate in taken:
        counter += 1
        suffix = f"_{counter}"
        candidate = name[: MAX_LENGTH - len(suffix)] + suffix
    taken.add(candidate)
    return candidate
