"""Tool definitions as MCP describes them, plus what Switchboard adds (scopes, call binding).

The definition part is `mcp_types.Tool` (the SDK's `mcp.types.Tool`, without importing the SDK's
transports), so definitions discovered from a running server and definitions derived from an
OpenAPI document are compared and digested the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mcp_types import Tool, ToolAnnotations
from pydantic import BaseModel, Field

__all__ = ["Tool", "ToolAnnotations", "ToolDefinition", "definitions_digest"]


class ToolDefinition(BaseModel):
    """One tool of a server version as the catalogue stores it."""

    tool: Tool
    scopes: list[str] = Field(default_factory=list)
    """OAuth scopes a caller needs, besides a grant on the server, to see and call this tool."""
    binding: dict[str, Any] | None = None
    """How a bridge turns a call into a request (OpenAPI tools); `None` for MCP servers."""

    @property
    def name(self) -> str:
        return self.tool.name

    def wire(self) -> dict[str, Any]:
        """The tool as it appears in an MCP `tools/list` result."""
        return self.tool.model_dump(mode="json", by_alias=True, exclude_none=True)


def definitions_digest(tools: list[ToolDefinition]) -> str:
    """A stable digest of what a reviewer approved: names, descriptions, schemas, annotations.

    Order-independent and whitespace-independent, so only a real change in what a model is
    shown changes the digest.
    """
    wires = sorted((t.wire() for t in tools), key=lambda w: str(w["name"]))
    canonical = json.dumps(wires, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
