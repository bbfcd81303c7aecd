"""RFC 9728 protected resource metadata for `/mcp`, and the `WWW-Authenticate` challenges.

MCP clients start here: a 401 names this document, the document names the authorization
server, and from there the client registers and signs the user in.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from switchboard.identity.scopes import MCP
from switchboard.settings import Settings

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_url(settings: Settings) -> str:
    return settings.effective_public_url + WELL_KNOWN + "/mcp"


def resource_metadata(settings: Settings) -> dict[str, Any]:
    return {
        "resource": settings.mcp_url,
        "authorization_servers": [settings.effective_public_url],
        "scopes_supported": [MCP],
        "bearer_methods_supported": ["header"],
        "resource_name": "Switchboard MCP endpoint",
        "resource_documentation": settings.effective_public_url + "/",
    }


def challenge(
    settings: Settings, *, error: str | None = None, scope: str = MCP, description: str = ""
) -> str:
    """A `WWW-Authenticate: Bearer` value (RFC 6750 §3, RFC 9728 §5.1)."""
    parts = [f'resource_metadata="{metadata_url(settings)}"', f'scope="{scope}"']
    if error is not None:
        parts.insert(0, f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return "Bearer " + ", ".join(parts)


async def metadata_endpoint(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.services.settings
    return JSONResponse(
        resource_metadata(settings), headers={"Cache-Control": "public, max-age=300"}
    )
