"""The bridge's MCP server on stdio: `tools/list` serves the stored definitions exactly, and
`tools/call` sends one HTTP request through the egress proxy and answers with its result.

The bridge is stateless across calls: no cookie jar, no redirects followed, no connection
credentials but the server's own secrets. Nothing a caller sends (arguments, `_meta`) can
choose a header that carries credentials, and nothing is logged per call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from sandboxes.bridges.openapi.config import SECRETS_VARIABLE, BridgeConfig, ConfigError
from sandboxes.bridges.openapi.credentials import CredentialError, credentials_for
from sandboxes.bridges.openapi.requests import BindingError, HttpRequest, build_request
from sandboxes.bridges.openapi.responses import (
    MAX_RESPONSE_BYTES,
    HttpResponse,
    Redactor,
    error_result,
    tool_result,
)

NAME = "switchboard-openapi-bridge"
USER_AGENT = f"{NAME}/1"


class Bridge:
    """The two handlers, over one configuration, the secrets and an HTTP client."""

    def __init__(
        self, config: BridgeConfig, secrets: dict[str, str], http: httpx.AsyncClient
    ) -> None:
        self.config = config
        self._secrets = secrets
        self._redact = Redactor(secrets.values())
        self._http = http
        self._tools = {tool.name: tool for tool in config.tools}
        self._listed = types.ListToolsResult(
            tools=[types.Tool.model_validate(tool.definition) for tool in config.tools]
        )

    async def list_tools(
        self, _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return self._listed

    async def call_tool(
        self, _ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = self._tools.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}")
        try:
            credentials = credentials_for(
                tool.security, self.config.schemes, self._secrets, server=self.config.server
            )
            request = build_request(tool.binding, params.arguments or {}, credentials)
        except (CredentialError, BindingError) as exc:
            return error_result(str(exc))
        timeout = self.config.timeout
        try:
            with anyio.fail_after(timeout):
                response = await self._send(request)
        except (TimeoutError, httpx.TimeoutException):
            return error_result(f"the API did not answer {request.target} within {timeout:g} s")
        except httpx.ProxyError as exc:
            reason = f"the sandbox's egress proxy refused {request.target}: {exc}"
            return error_result(self._redact(reason))
        except httpx.HTTPError as exc:
            reason = f"could not reach the API for {request.target}: {exc or type(exc).__name__}"
            return error_result(self._redact(reason))
        return tool_result(tool, request.target, response, self._redact)

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """One exchange; the body is read up to MAX_RESPONSE_BYTES and cut there."""
        async with self._http.stream(
            request.method, request.url, headers=request.headers, content=request.content
        ) as answer:
            body = bytearray()
            complete = True
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    del body[MAX_RESPONSE_BYTES:]
                    complete = False
                    break
            return HttpResponse(
                status=answer.status_code,
                reason=answer.reason_phrase,
                content_type=answer.headers.get("content-type", ""),
                body=bytes(body),
                complete=complete,
                from_proxy=answer.headers.get("x-switchboard-egress") == "proxy",
                location=answer.headers.get("location") if answer.is_redirect else None,
            )


def build_server(bridge: Bridge) -> Server[Any]:
    return Server(
        NAME,
        version="1",
        title=bridge.config.server,
        on_list_tools=bridge.list_tools,
        on_call_tool=bridge.call_tool,
    )


def http_client(
    config: BridgeConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """Proxy and CA bundle from the environment (the sandbox sets both), cookies refused.

    `transport` replaces the network (tests pass an app in process); then no proxy applies.
    """
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(config.timeout),
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        headers={"User-Agent": USER_AGENT},
        trust_env=transport is None,
    )


async def serve(config: BridgeConfig, secrets: dict[str, str]) -> None:
    async with http_client(config) as http:
        server = build_server(Bridge(config, secrets, http))
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())


def read_secrets(raw: str) -> dict[str, str]:
    """The secrets variable's JSON object; errors never quote it."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"${SECRETS_VARIABLE} must be a JSON object of strings")
    return {str(name): secret for name, secret in value.items()}


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if len(argv) != 1:
        sys.stderr.write("usage: python -m sandboxes.bridges.openapi CONFIG.json\n")
        return 2
    try:
        config = BridgeConfig.loads(Path(argv[0]).read_bytes())
        secrets = read_secrets(os.environ.pop(SECRETS_VARIABLE, "{}"))
    except (OSError, ConfigError) as exc:
        sys.stderr.write(f"openapi bridge: {exc}\n")
        return 2
    anyio.run(serve, config, secrets)
    return 0
