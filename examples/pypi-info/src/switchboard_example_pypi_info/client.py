"""Reading PyPI's JSON API: names are validated before a request, failures become tool errors."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from mcp.server.mcpserver.exceptions import ToolError
from packaging.version import InvalidVersion, Version

from switchboard_example_pypi_info import __version__

DEFAULT_BASE_URL = "https://pypi.org/pypi"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Big projects' documents run to a few MB; anything far larger is refused, not buffered."""

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def check_name(name: str) -> str:
    """A valid distribution name (PEP 508), so it is safe to put in a URL path."""
    name = name.strip()
    if len(name) > 200 or not _NAME.match(name):
        raise ToolError(
            f"{name!r} is not a valid package name: use letters, digits, `.`, `_` and `-`, "
            "starting and ending with a letter or digit"
        )
    return name


def check_version(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise ToolError(f"{version!r} is not a PEP 440 version such as `1.2.3`") from None


class PyPIClient:
    """Fetches project and release documents from one PyPI-compatible JSON API."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"PyPI base URL {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def project(self, name: str) -> dict[str, Any]:
        """The project document: latest release's metadata plus every release's files."""
        name = check_name(name)
        return await self._get(f"{name}/json", f"PyPI has no project named {name!r}")

    async def release(self, name: str, version: str) -> dict[str, Any]:
        name = check_name(name)
        check_version(version)
        missing = f"{name!r} has no release {version!r} on PyPI (or no such project)"
        return await self._get(f"{name}/{version.strip()}/json", missing)

    async def _get(self, path: str, missing: str) -> dict[str, Any]:
        url = f"{self.base_url}/{path}"
        headers = {
            "Accept": "application/json",
            "User-Agent": f"switchboard-pypi-info/{__version__}",
        }
        try:
            async with (
                httpx.AsyncClient(timeout=self.timeout, follow_redirects=True) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if response.status_code == 404:
                    raise ToolError(missing)
                if response.status_code != 200:
                    raise ToolError(f"PyPI answered HTTP {response.status_code} for {url}")
                body = await _read_capped(response)
        except httpx.TimeoutException:
            raise ToolError(f"PyPI did not answer within {self.timeout:g} s; try again") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"cannot reach PyPI at {self.base_url}: {exc}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise ToolError(f"PyPI sent a response that is not JSON for {url}") from None
        if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
            raise ToolError(f"PyPI sent an unexpected document for {url}")
        return document


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ToolError(f"PyPI's answer is larger than {MAX_RESPONSE_BYTES // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
