"""Images for tool servers, built on this host without any container registry.

`ImageBuilder(client).ensure(ImageSpec("pypi", "mcp-server-time", "2026.10.19"))` returns a
`BuiltImage` whose container reads one JSON line of environment variables (the secrets) from
stdin, then runs `command` speaking MCP on the same stdin/stdout.

Names are imported lazily, so `python -m sandboxes.images.base` runs its module only once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.errors import SandboxError
    from sandboxes.images.builder import ImageBuilder
    from sandboxes.images.spec import BuiltImage, ImageBuildError, ImageSpec

__all__ = ["BuiltImage", "ImageBuildError", "ImageBuilder", "ImageSpec", "SandboxError"]
_HOMES = {
    "BuiltImage": "sandboxes.images.spec",
    "ImageBuildError": "sandboxes.images.spec",
    "ImageSpec": "sandboxes.images.spec",
    "ImageBuilder": "sandboxes.images.builder",
    "SandboxError": "sandboxes.errors",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
