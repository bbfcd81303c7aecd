"""Playing a browser and a public OAuth client against the app, for the OAuth tests."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import TEST_PASSWORD

REDIRECT_URI = "http://127.0.0.1:33418/callback"
MCP_URL = "http://127.0.0.1:8080/mcp"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    if match is None:
        raise AssertionError(f"no field {name!r} in the page")
    return match.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


async def register(http: httpx.AsyncClient, redirect_uri: str = REDIRECT_URI) -> str:
    response = await http.post(
        "/oauth/register",
        json={"redirect_uris": [redirect_uri], "client_name": "Test IDE"},
    )
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


async def sign_in(http: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> None:
    page = await http.get("/signin")
    token = form_value(page.text, "csrf_token")
    response = await http.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )
    assert response.status_code == 303, response.text


@dataclass
class Authorized:
    code: str
    state: str
    iss: str
    verifier: str


def authorize_params(client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-" + secrets.token_hex(4),
        "resource": MCP_URL,
        "scope": "mcp",
        **extra,
    }


async def authorize(http: httpx.AsyncClient, client_id: str, **extra: str) -> Authorized:
    """Ask for a code as a signed-in browser, allowing on the consent page if it appears."""
    verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, **extra)
    response = await http.get("/oauth/authorize", params=params)
    if response.status_code == 200:
        fields = hidden_fields(response.text)
        response = await http.post("/oauth/authorize", data={**fields, "decision": "allow"})
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return Authorized(query["code"][0], query["state"][0], query["iss"][0], verifier)


async def exchange(http: httpx.AsyncClient, client_id: str, auth: Authorized) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": auth.code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": auth.verifier,
            "resource": MCP_URL,
        },
    )


async def refresh(
    http: httpx.AsyncClient, client_id: str, token: str, **extra: str
) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": token,
            **extra,
        },
    )
