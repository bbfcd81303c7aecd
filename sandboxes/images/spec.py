"""What to build, what was built, and the one error a build can raise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sandboxes.errors import SandboxError

RegistryType = Literal["pypi", "npm", "oci"]

LOG_TAIL_LINES = 40

# Identifiers and versions end up in Dockerfile lines and shell commands, so only the characters
# their registries allow are accepted; everything else is refused before anything runs.
_PATTERNS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "pypi": (
        re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"),
        re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*"),
    ),
    "npm": (
        re.compile(r"(@[a-z0-9][a-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*"),
        re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*"),
    ),
    "oci": (
        re.compile(r"[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?"),
        re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"),
    ),
}


class ImageBuildError(SandboxError):
    """An image could not be built or found; `log` holds the whole build output."""

    def __init__(self, message: str, log: str = "") -> None:
        self.log = log
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        suffix = f"\n--- build log (last {LOG_TAIL_LINES} lines) ---\n{tail}" if tail else ""
        super().__init__(message + suffix)


@dataclass(frozen=True)
class ImageSpec:
    """A tool server as the registry names it: `pypi`/`npm` package or local OCI image, pinned."""

    registry_type: RegistryType
    identifier: str
    version: str

    def __post_init__(self) -> None:
        patterns = _PATTERNS.get(self.registry_type)
        if patterns is None:
            raise ValueError(
                f"`registry_type` must be 'pypi', 'npm' or 'oci', not {self.registry_type!r}"
            )
        name_pattern, version_pattern = patterns
        if not name_pattern.fullmatch(self.identifier):
            raise ValueError(f"{self.identifier!r} is not a valid {self.registry_type} name")
        if not version_pattern.fullmatch(self.version):
            raise ValueError(
                f"{self.version!r} is not a valid {self.registry_type} version; "
                "pin an exact version (no ranges, spaces or quotes)"
            )

    def __str__(self) -> str:
        separator = {"pypi": "==", "npm": "@", "oci": ":"}[self.registry_type]
        return f"{self.registry_type} `{self.identifier}{separator}{self.version}`"


@dataclass(frozen=True)
class BuiltImage:
    """A runnable image, referred to by ID; `command` is its `Cmd`, run under `sb-entry`."""

    image_id: str
    tag: str
    command: list[str]
    log: str
