"""Checking an authorization request, in the order RFC 6749 §4.1.2.1 demands.

Problems with the client or its redirect URI are shown to the person (never redirected: that
would make this server an open redirector); every later problem is sent back to the client's
verified redirect URI as an `error`, with `state` and `iss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from switchboard.identity.scopes import BASE_SCOPES, MCP, SERVER_PREFIX, parse_scope
from switchboard.services import Services
from web.oauth.clients import Client, UnknownClientError, resolve_client

PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
)
MAX_PARAMETER = 4096


class ShowError(Exception):
    """Shown on a page: the client or redirect URI cannot be trusted with a redirect."""


class RedirectError(Exception):
    """Sent to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.redirect_uri = ""
        """The client's verified redirect URI, filled in by `check_request`."""


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str
    resource: str
    parameters: dict[str, str]
    """The original parameters, so the consent form can post them back for re-checking."""


def resource_allowed(services: Services, resource: str) -> bool:
    """Tokens are only ever minted for this server's own MCP endpoint or JSON API."""
    settings = services.settings
    return resource.rstrip("/") in (settings.mcp_url, settings.effective_public_url)


def valid_scope(scope: str) -> bool:
    if scope in BASE_SCOPES:
        return True
    if scope.startswith(SERVER_PREFIX):
        return len(scope) > len(SERVER_PREFIX)
    return 0 < len(scope) <= 128 and all(c.isalnum() or c in ":._-/*" for c in scope)


async def check_request(services: Services, given: dict[str, str]) -> AuthorizationRequest:
    parameters = {k: given[k] for k in PARAMETERS if k in given}
    if any(len(v) > MAX_PARAMETER for v in parameters.values()):
        raise ShowError("the authorization request is too long")
    try:
        client = await resolve_client(services, parameters.get("client_id", ""))
    except UnknownClientError as exc:
        raise ShowError(str(exc)) from exc
    redirect_uri = parameters.get("redirect_uri")
    if redirect_uri is None:
        if len(client.redirect_uris) != 1:
            raise ShowError("the request has no redirect_uri and the client registered several")
        redirect_uri = client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        raise ShowError("the redirect_uri is not one the client registered (it must match exactly)")
    try:
        return _check_grant(services, client, redirect_uri, parameters)
    except RedirectError as exc:
        exc.redirect_uri = redirect_uri
        raise


def _check_grant(
    services: Services, client: Client, redirect_uri: str, parameters: dict[str, str]
) -> AuthorizationRequest:
    if parameters.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "only response_type=code is supported")
    challenge = parameters.get("code_challenge", "")
    if parameters.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        raise RedirectError(
            "invalid_request", "PKCE is required: send code_challenge with method S256"
        )
    resource = parameters.get("resource", services.settings.mcp_url)
    if not resource_allowed(services, resource):
        raise RedirectError("invalid_target", "the resource is not served by this server")
    scopes = parse_scope(parameters.get("scope")) or [MCP]
    if not all(valid_scope(scope) for scope in scopes):
        raise RedirectError("invalid_scope", "the request asks for a scope this server lacks")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=parameters.get("state"),
        code_challenge=challenge,
        resource=resource.rstrip("/"),
        parameters=parameters,
    )


def redirect_target(redirect_uri: str, issuer: str, state: str | None, **values: str) -> str:
    """The redirect URI with the response added (RFC 9207 `iss` included)."""
    query = {**values, "iss": issuer}
    if state is not None:
        query["state"] = state
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return redirect_uri + separator + urlencode(query)


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"
