"""How hosted tools and prompts are named to callers: `<server-slug>.<name>`.

A server slug never contains a dot, so the first dot splits a name back into server and tool.
The loopback-only test listener (see `toolhost/test_listener.py`) may show one server's names
bare, because conformance suites call fixed tool names.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

BARE = "switchboard.bare_server"
"""ASGI scope key: the slug whose names this request sees without the prefix."""


@dataclass(frozen=True)
class Naming:
    bare: str | None = None

    @classmethod
    def of(cls, scope: Scope) -> Naming:
        return cls(scope.get(BARE))

    def expose(self, slug: str, name: str) -> str:
        return name if slug == self.bare else f"{slug}.{name}"

    def own(self, slug: str, exposed: str) -> str | None:
        """The server's own name for `exposed`, if `exposed` names something of `slug`."""
        if slug == self.bare:
            return exposed
        prefix = slug + "."
        return exposed[len(prefix) :] if exposed.startswith(prefix) else None

    def internal(self, exposed: str) -> str:
        """The catalogue's `<slug>.<tool>` for a name a caller used."""
        return f"{self.bare}.{exposed}" if self.bare is not None else exposed

    def expose_indexed(self, name: str) -> str:
        """A catalogue name (`<slug>.<tool>`) as this caller sees it."""
        slug, _, own = name.partition(".")
        return self.expose(slug, own)
