"""RFC 8414 authorization server metadata (and its OpenID Connect discovery twin), and the JWKS."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from switchboard.identity.keys import ALGORITHM
from switchboard.identity.scopes import BASE_SCOPES
from switchboard.settings import Settings
from web.requests import services_of

AUTHORIZE = "/oauth/authorize"
TOKEN = "/oauth/token"  # noqa: S105  (a path, not a password)
REGISTER = "/oauth/register"
REVOKE = "/oauth/revoke"
JWKS = "/oauth/jwks.json"
CACHEABLE = {"Cache-Control": "public, max-age=300"}


def server_metadata(settings: Settings) -> dict[str, Any]:
    base = settings.effective_public_url
    return {
        "issuer": base,
        "authorization_endpoint": base + AUTHORIZE,
        "token_endpoint": base + TOKEN,
        "registration_endpoint": base + REGISTER,
        "revocation_endpoint": base + REVOKE,
        "jwks_uri": base + JWKS,
        "scopes_supported": list(BASE_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
    }


def openid_metadata(settings: Settings) -> dict[str, Any]:
    """The same server described for OpenID Connect discovery, which some clients try first."""
    return {
        **server_metadata(settings),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
    }


async def authorization_server(request: Request) -> JSONResponse:
    return JSONResponse(server_metadata(services_of(request).settings), headers=CACHEABLE)


async def openid_configuration(request: Request) -> JSONResponse:
    return JSONResponse(openid_metadata(services_of(request).settings), headers=CACHEABLE)


async def jwks(request: Request) -> JSONResponse:
    ring = await services_of(request).keys.ring()
    return JSONResponse({"keys": ring.public}, headers=CACHEABLE)
