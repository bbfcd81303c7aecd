"""RFC 7591 dynamic client registration, for public clients (PKCE, no client secret).

Registration is open, as MCP clients expect, so what it accepts is small and strict: a few
exact redirect URIs of safe kinds, a name, the two grant types this server offers. A client
that asks for a secret-based token endpoint method is registered as public instead, and the
response says so (RFC 7591 lets the server substitute its own values).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from switchboard.audit.log import Event, append_in
from switchboard.identity.models import OAuthClient
from web.auth.ratelimit import SlidingWindow
from web.oauth.client_metadata import ClientMetadataError, check_redirect_uri
from web.requests import client_address, services_of

MAX_BODY = 16 * 1024
MAX_REDIRECT_URIS = 10
GRANT_TYPES = {"authorization_code", "refresh_token"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ANONYMOUS = "(anonymous)"


class RegistrationError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


def _string(metadata: dict[str, Any], name: str, limit: int = 200) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise RegistrationError(
            "invalid_client_metadata", f"`{name}` must be a string of at most {limit} characters"
        )
    return value


def validate_registration(metadata: Any) -> dict[str, Any]:
    """The client record to store and return, or `RegistrationError` naming the field."""
    if not isinstance(metadata, dict):
        raise RegistrationError("invalid_client_metadata", "the body must be a JSON object")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"`redirect_uris` must list 1 to {MAX_REDIRECT_URIS} redirect URIs",
        )
    for uri in uris:
        try:
            check_redirect_uri(uri)
        except ClientMetadataError as exc:
            raise RegistrationError("invalid_redirect_uri", str(exc)) from exc
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not set(grant_types) <= GRANT_TYPES:
        raise RegistrationError(
            "invalid_client_metadata",
            "`grant_types` may contain only `authorization_code` and `refresh_token`",
        )
    response_types = metadata.get("response_types", ["code"])
    if response_types != ["code"]:
        raise RegistrationError("invalid_client_metadata", '`response_types` must be ["code"]')
    record: dict[str, Any] = {
        "redirect_uris": list(dict.fromkeys(uris)),
        "grant_types": sorted(set(grant_types) | {"authorization_code"}),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    for name in ("client_name", "client_uri", "logo_uri", "software_id", "software_version"):
        value = _string(metadata, name, 2048 if name.endswith("uri") else 200)
        if value is not None:
            record[name] = value
    scope = _string(metadata, "scope", 1000)
    if scope is not None:
        record["scope"] = scope
    return record


async def register(request: Request) -> JSONResponse:
    services = services_of(request)
    limiter: SlidingWindow = request.app.state.registration_limiter
    if not limiter.allow(client_address(request)):
        return _error("slow_down", "too many registrations from your address; wait a minute", 429)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return _error("invalid_client_metadata", f"the body exceeds {MAX_BODY} bytes", 413)
    try:
        record = validate_registration(json.loads(raw or b"null"))
    except json.JSONDecodeError:
        return _error("invalid_client_metadata", "the body is not JSON")
    except RegistrationError as exc:
        return _error(exc.error, str(exc))
    client_id = "sbc_" + secrets.token_urlsafe(24)
    async with services.transaction() as session:
        session.add(
            OAuthClient(
                client_id=client_id,
                name=record.get("client_name"),
                redirect_uris=record["redirect_uris"],
                document=record,
            )
        )
        await append_in(session, [_registered(request, client_id, record)])
    body = {"client_id": client_id, "client_id_issued_at": int(time.time()), **record}
    return JSONResponse(body, status_code=201, headers=NO_STORE)


def _registered(request: Request, client_id: str, record: dict[str, Any]) -> Event:
    """Registration is open, so nobody is its actor; where it came from and where the client
    may send codes are what an investigation needs."""
    return Event(
        actor=ANONYMOUS,
        action="oauth_register",
        outcome="ok",
        client=client_id,
        detail={
            "address": client_address(request),
            "client_name": record.get("client_name"),
            "redirect_uris": record["redirect_uris"],
        },
    )


def _error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )
