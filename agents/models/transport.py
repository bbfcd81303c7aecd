"""The model layer's HTTP transport: `httpx2`'s client API over aiohttp's connection handling.

Every `/v1/chat/completions` request and every agent step pays for one upstream request, and
httpx2's own transport (pure-Python HTTP/1.1 parsing and connection pool) spent more CPU on it
than the rest of the router together: about 0.55 ms of 0.8 against aiohttp's 0.26 on this
machine (C parser, one event-loop protocol per connection). The wire modules keep speaking
httpx2 (requests, responses, streaming, its exception classes), so this is the only module that
knows aiohttp is there.

Proxies come from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`, as httpx2 reads them, but read once:
aiohttp's own `trust_env` looks them (and `~/.netrc`) up again in two worker-thread hops per
request, which cost more than the rest of the request.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx2


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """Opened lazily (aiohttp wants a running loop); closed when its `async with` ends."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_per_host: int,
        proxies: EnvironmentProxies | None = None,
    ) -> None:
        self._limits = (max_connections, max_per_host)
        self._proxies = proxies or EnvironmentProxies()
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            total, per_host = self._limits
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=total, limit_per_host=per_host),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._opened()
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                str(request.url),
                data=body or None,
                headers=[
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in request.headers.raw
                ],
                allow_redirects=False,
                timeout=_timeout(request.extensions.get("timeout") or {}),
                proxy=self._proxies.for_url(request.url),
            )
        except Exception as exc:
            raise _translated(exc, request) from exc
        return httpx2.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class EnvironmentProxies:
    """The proxy for each URL by the environment's `*_PROXY` and `NO_PROXY` (hosts, and domains
    with their subdomains; `*` for every host), as they were when the process started."""

    def __init__(self, variables: Mapping[str, str] | None = None) -> None:
        proxies = urllib.request.getproxies_environment() if variables is None else variables
        self._proxies = {scheme: url for scheme, url in proxies.items() if scheme != "no"}
        self._direct = [
            _domain(entry) for entry in proxies.get("no", "").split(",") if entry.strip()
        ]
        self._chosen: dict[tuple[str, str], str | None] = {}

    def for_url(self, url: httpx2.URL) -> str | None:
        key = (url.scheme, url.host)
        if key not in self._chosen:
            proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
            self._chosen[key] = None if self._bypassed(url.host.lower()) else proxy
        return self._chosen[key]

    def _bypassed(self, host: str) -> bool:
        return any(not d or host == d or host.endswith("." + d) for d in self._direct)


def _domain(entry: str) -> str:
    """A `NO_PROXY` entry as the domain it names: no leading `*.`/`.`, no port; `""` for `*`."""
    domain = entry.strip().lstrip("*").lstrip(".").lower()
    return domain.split(":", 1)[0] if domain.count(":") == 1 else domain


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx2.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _translated(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def _timeout(seconds: dict[str, Any]) -> aiohttp.ClientTimeout:
    """httpx2's per-phase timeouts in aiohttp's terms (`pool` is the wait for a connection)."""
    connect, pool = seconds.get("connect"), seconds.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=seconds.get("read"),
    )


def _translated(exc: Exception, request: httpx2.Request) -> Exception:
    """aiohttp's failure as the httpx2 exception the wire modules classify."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(str(exc) or "connect timed out", request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx2.ReadTimeout(str(exc) or "read timed out", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientOSError):
        return httpx2.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx2.RemoteProtocolError(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx2.TransportError(f"{type(exc).__name__}: {exc}", request=request)
    return exc
