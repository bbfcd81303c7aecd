"""What one OpenAPI server version's bridge serves, as the JSON file baked into its image.

The host writes it (`BridgeConfig.dumps`, deterministic, so equal versions share an image) and
the bridge reads it. Nothing in it is secret: secret values arrive at start, in one variable.
Standard library only: both sides import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SECRETS_VARIABLE = "SB_OPENAPI_SECRETS"
"""The variable holding every credential as one JSON object keyed by security scheme name.

One variable rather than one per scheme: scheme names are the document author's choice
(`PATH`, `api-key`, `PYTHONSTARTUP`), and none may collide with a variable that Python or the
bridge reads.
"""


class ConfigError(Exception):
    """The configuration file is not what the host writes; the message names the field."""


@dataclass(frozen=True)
class BridgeTool:
    definition: dict[str, Any]
    """The tool exactly as the catalogue stores it (MCP wire form): what `tools/list` serves."""
    binding: dict[str, Any]
    """How a call becomes a request, as `registry/openapi/operations.py` records it."""
    security: list[list[str]]
    """Scheme names of each alternative the operation accepts, in the document's order.
    No alternatives, or an empty one, means the operation may be called without credentials."""

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def has_output_schema(self) -> bool:
        return isinstance(self.definition.get("outputSchema"), dict)


@dataclass(frozen=True)
class BridgeConfig:
    server: str
    """The server's name, for messages (`com.example/tasks`)."""
    tools: tuple[BridgeTool, ...]
    schemes: dict[str, dict[str, Any]]
    """Security Scheme Objects by name, `$ref`s resolved: where each credential goes."""
    timeout: float
    """Seconds one HTTP exchange may take: a little under the call's own limit, so a slow API
    gets the bridge's clear error rather than a cancelled call and a replaced sandbox."""

    def dumps(self) -> bytes:
        document = {
            "server": self.server,
            "timeout": self.timeout,
            "schemes": self.schemes,
            "tools": [
                {"definition": t.definition, "binding": t.binding, "security": t.security}
                for t in self.tools
            ],
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> BridgeConfig:
        try:
            document = json.loads(data)
            tools = tuple(
                BridgeTool(
                    definition=_object(tool["definition"], "definition"),
                    binding=_object(tool["binding"], "binding"),
                    security=[[str(name) for name in names] for names in tool["security"]],
                )
                for tool in document["tools"]
            )
            return cls(
                server=str(document["server"]),
                tools=tools,
                schemes=_object(document["schemes"], "schemes"),
                timeout=float(document["timeout"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"the bridge configuration is not valid ({type(exc).__name__}: {exc}); "
                "rebuild the version's image"
            ) from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"`{what}` must be an object")
    return value
