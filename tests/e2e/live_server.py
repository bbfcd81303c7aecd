"""A real Switchboard server in this process for tests that drive it with real MCP clients.

`live_switchboard()` serves `create_app` with uvicorn on a free loopback port, configured as
`switchboard serve` is (the public URL from `SWITCHBOARD_PUBLIC_URL`); `sign_in_and_allow()`
plays the browser part of an OAuth authorization: sign-in form, consent page, redirect.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette

from switchboard.app import create_app
from switchboard.services import Services
from switchboard.serving import uvicorn_options
from switchboard.settings import Settings
from tests.conftest import TEST_PASSWORD

STARTUP_SECONDS = 60
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "switchboard-tests", "version": "0"},
    },
}
"""A handshake-era `initialize` request, for tests that open sessions with plain HTTP."""


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Starlette

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def client(self, token: str) -> httpx.AsyncClient:
        """An HTTP client of the server acting with `token`."""
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


@asynccontextmanager
async def live_switchboard(
    data_dir: Path, database_url: str, **overrides: Any
) -> AsyncIterator[LiveServer]:
    """Serve Switchboard on a free 127.0.0.1 port until the block ends, with settings read as
    `switchboard serve` reads them and `SWITCHBOARD_PUBLIC_URL` set to the server's URL;
    `overrides` are further settings."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        previous = os.environ.get("SWITCHBOARD_PUBLIC_URL")
        os.environ["SWITCHBOARD_PUBLIC_URL"] = url
        try:
            settings = Settings(data_dir=data_dir, database_url=database_url, **overrides)
        finally:
            if previous is None:
                del os.environ["SWITCHBOARD_PUBLIC_URL"]
            else:
                os.environ["SWITCHBOARD_PUBLIC_URL"] = previous
        assert settings.effective_public_url == url
        app = create_app(settings)
        options = {**uvicorn_options(settings), "log_level": "warning"}
        server = uvicorn.Server(uvicorn.Config(app, ws="none", lifespan="on", **options))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STARTUP_SECONDS
            while not server.started and not serving.done():
                assert loop.time() < deadline, "uvicorn did not start"
                await asyncio.sleep(0.05)
            if serving.done():
                serving.result()
                raise AssertionError("uvicorn stopped while starting")
            yield LiveServer(url=url, app=app)
        finally:
            server.should_exit = True
            await serving


def _form_fields(page: str) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in fields}


async def sign_in_and_allow(
    browser: httpx.AsyncClient, authorization_url: str, username: str
) -> str:
    """Open `authorization_url` as a browser with no session would, sign in as `username` on
    the sign-in page it is sent to, press Allow on the consent page, and return where the server
    finally sends the browser (the client's redirect URI, with the code) without going there."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(str(browser.base_url)))
    signed_in = consented = False
    response = await browser.get(authorization_url)
    for _ in range(10):
        if response.status_code in (302, 303):
            target = urljoin(origin + "/", response.headers["location"])
            if not target.startswith(origin + "/"):
                assert signed_in, "sent back to the client without signing in"
                assert consented, "sent back to the client without a consent page"
                return target
            response = await browser.get(target)
        elif response.status_code == 200 and 'action="/signin"' in response.text:
            assert not signed_in, "signed in, then sent to the sign-in page again"
            fields = _form_fields(response.text)
            response = await browser.post(
                "/signin",
                data={**fields, "username": username, "password": TEST_PASSWORD},
            )
            assert response.status_code == 303, response.text
            signed_in = True
        elif response.status_code == 200 and 'name="decision"' in response.text:
            assert not consented, "allowed, then shown the consent page again"
            response = await browser.post(
                "/oauth/authorize", data={**_form_fields(response.text), "decision": "allow"}
            )
            consented = True
        else:
            raise AssertionError(f"unexpected page {response.status_code}: {response.text[:500]}")
    raise AssertionError("too many redirects")
