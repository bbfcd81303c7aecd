"""The PyPI example server against a real local HTTP server serving canned JSON.

No test reaches the network: every request goes to 127.0.0.1, through `PYPI_BASE_URL` or
the `base_url` argument.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from mcp import Client
from switchboard_example_pypi_info.server import base_url_from, create_server


def _file(version: str, uploaded: str, *, yanked: bool = False) -> dict[str, Any]:
    return {
        "filename": f"demo_pkg-{version}-py3-none-any.whl",
        "upload_time_iso_8601": uploaded,
        "requires_python": ">=3.9",
        "yanked": yanked,
    }


INFO = {
    "name": "Demo-Pkg",
    "version": "2.0.0",
    "summary": "A package that only exists in this test.",
    "requires_python": ">=3.9",
    "license": "MIT License\n\nPermission is hereby granted...",
    "license_expression": None,
    "author": "Ada",
    "author_email": "ada@example.com",
    "home_page": "",
    "project_urls": {"Source": "https://example.com/demo"},
    "package_url": "https://pypi.org/project/Demo-Pkg/",
    "yanked": False,
    "yanked_reason": None,
    "provides_extra": ["socks", "cli"],
    "requires_dist": [
        "idna<4,>=2.5",
        "tomli>=1.1; python_version < '3.11'",
        "PySocks!=1.5.7,>=1.5.6; extra == 'socks'",
        'rich[jupyter]>=13; extra == "cli"',
    ],
}
PROJECT = {
    "info": INFO,
    "releases": {
        "0.9": [_file("0.9", "2023-01-02T10:00:00.000000Z")],
        "1.0.0": [
            _file("1.0.0", "2024-02-01T09:00:00.000000Z"),
            _file("1.0.0", "2024-01-31T08:00:00.000000Z"),
        ],
        "1.0.1": [_file("1.0.1", "2024-03-01T00:00:00.000000Z", yanked=True)],
        "1.1.0rc1": [_file("1.1.0rc1", "2024-04-01T00:00:00.000000Z")],
        "2.0.0": [_file("2.0.0", "2025-01-01T00:00:00.000000Z")],
        "not-a-pep440-version": [],
        "0.1": [],
    },
    "urls": [],
    "vulnerabilities": [],
}
RELEASE_1_0_0 = {
    "info": {**INFO, "version": "1.0.0", "requires_dist": None, "provides_extra": None},
    "urls": [],
    "vulnerabilities": [
        {
            "id": "PYSEC-2024-1",
            "aliases": ["CVE-2024-0001"],
            "fixed_in": ["1.0.1"],
            "link": "https://osv.dev/vulnerability/PYSEC-2024-1",
        }
    ],
}


@dataclass
class FakePyPI:
    """What the fake index serves at each path, and which paths were asked for."""

    routes: dict[str, tuple[int, bytes]]
    requests: list[str] = field(default_factory=list)
    base_url: str = ""


def _json(document: object) -> tuple[int, bytes]:
    return 200, json.dumps(document).encode()


@pytest.fixture
def pypi() -> Iterator[FakePyPI]:
    fake = FakePyPI(
        routes={
            "/pypi/Demo-Pkg/json": _json(PROJECT),
            "/pypi/Demo-Pkg/1.0.0/json": _json(RELEASE_1_0_0),
            "/pypi/broken/json": (503, b"upstream unavailable"),
            "/pypi/not-json/json": (200, b"<html>maintenance</html>"),
            "/pypi/slow/json": _json(PROJECT),
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            canonical = re.sub(r"[-_.]+", "-", self.path).lower()
            if canonical == "/pypi/demo-pkg/json" and self.path != "/pypi/Demo-Pkg/json":
                # PyPI redirects any spelling of a name to the project's own spelling.
                self.send_response(301)
                self.send_header("Location", "/pypi/Demo-Pkg/json")
                self.end_headers()
                return
            if self.path == "/pypi/slow/json":
                time.sleep(1.0)
            status, body = fake.routes.get(self.path, (404, b'{"message": "Not Found"}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the timeout test hangs up before the slow answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/pypi"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@asynccontextmanager
async def connect(pypi: FakePyPI, seconds: float = 5.0) -> AsyncIterator[Client]:
    async with Client(create_server(base_url=pypi.base_url, timeout=seconds)) as client:
        yield client


async def call(pypi: FakePyPI, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with connect(pypi) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return dict(result.structured_content)


async def error(pypi: FakePyPI, name: str, arguments: dict[str, Any], seconds: float = 5) -> str:
    async with connect(pypi, seconds) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error
    text = result.content[0]
    assert text.type == "text"
    return text.text


async def test_lists_three_labelled_read_only_tools(pypi: FakePyPI) -> None:
    async with connect(pypi) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {"package_info", "package_releases", "version_satisfies"}
    for tool in tools.values():
        assert tool.title
        assert tool.output_schema is not None
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
    assert tools["package_info"].annotations.open_world_hint is True  # type: ignore[union-attr]
    assert tools["version_satisfies"].annotations.open_world_hint is False  # type: ignore[union-attr]


async def test_package_info_describes_the_latest_release(pypi: FakePyPI) -> None:
    info = await call(pypi, "package_info", {"name": "demo_pkg"})

    assert pypi.requests == ["/pypi/demo_pkg/json", "/pypi/Demo-Pkg/json"]
    assert info["name"] == "Demo-Pkg"
    assert info["version"] == "2.0.0"
    assert info["requires_python"] == ">=3.9"
    assert info["license"] == "MIT License"
    assert info["home_page"] is None
    assert info["extras"] == ["cli", "socks"]
    dependencies = {d["name"]: d for d in info["dependencies"]}
    assert dependencies["idna"]["specifier"] == "<4,>=2.5"
    assert dependencies["idna"]["for_extra"] is None
    assert dependencies["tomli"]["marker"] == 'python_version < "3.11"'
    assert dependencies["PySocks"]["for_extra"] == "socks"
    assert dependencies["rich"] == {
        "requirement": 'rich[jupyter]>=13; extra == "cli"',
        "name": "rich",
        "specifier": ">=13",
        "extras": ["jupyter"],
        "marker": 'extra == "cli"',
        "for_extra": "cli",
    }


async def test_package_info_for_one_version_reports_vulnerabilities(pypi: FakePyPI) -> None:
    info = await call(pypi, "package_info", {"name": "Demo-Pkg", "version": "1.0.0"})

    assert pypi.requests == ["/pypi/Demo-Pkg/1.0.0/json"]
    assert info["version"] == "1.0.0"
    assert info["dependencies"] == []
    assert info["vulnerabilities"] == [
        {
            "id": "PYSEC-2024-1",
            "aliases": ["CVE-2024-0001"],
            "fixed_in": ["1.0.1"],
            "link": "https://osv.dev/vulnerability/PYSEC-2024-1",
        }
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"name": "no-such-package"}, "PyPI has no project named 'no-such-package'"),
        ({"name": "Demo-Pkg", "version": "9.9.9"}, "has no release '9.9.9'"),
        ({"name": "broken"}, "PyPI answered HTTP 503"),
        ({"name": "not-json"}, "not JSON"),
    ],
)
async def test_package_info_errors(
    pypi: FakePyPI, arguments: dict[str, Any], expected: str
) -> None:
    assert expected in await error(pypi, "package_info", arguments)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"name": "../../admin"}, "is not a valid package name"),
        ({"name": "demo pkg"}, "is not a valid package name"),
        ({"name": "-demo"}, "is not a valid package name"),
        ({"name": "Demo-Pkg", "version": "1.0/../../x"}, "is not a PEP 440 version"),
    ],
)
async def test_invalid_names_never_reach_pypi(
    pypi: FakePyPI, arguments: dict[str, Any], expected: str
) -> None:
    assert expected in await error(pypi, "package_info", arguments)
    assert pypi.requests == []


async def test_a_slow_index_times_out(pypi: FakePyPI) -> None:
    message = await error(pypi, "package_info", {"name": "slow"}, seconds=0.2)

    assert "did not answer within 0.2 s" in message


async def test_an_unreachable_index_is_a_tool_error(pypi: FakePyPI) -> None:
    pypi.base_url = "http://127.0.0.1:9/pypi"  # the discard port: nothing listens

    assert "cannot reach PyPI at http://127.0.0.1:9/pypi" in await error(
        pypi, "package_info", {"name": "demo"}
    )


async def test_package_releases_newest_first_without_prereleases_or_yanked(
    pypi: FakePyPI,
) -> None:
    result = await call(pypi, "package_releases", {"name": "Demo-Pkg"})

    assert [r["version"] for r in result["releases"]] == ["2.0.0", "1.0.0", "0.9", "0.1"]
    assert result["latest_match"] == "2.0.0"
    assert result["total"] == 4
    assert result["releases"][1] == {
        "version": "1.0.0",
        "upload_time": "2024-01-31T08:00:00.000000Z",
        "requires_python": ">=3.9",
        "yanked": False,
        "prerelease": False,
    }
    assert result["releases"][3]["upload_time"] is None


async def test_package_releases_matching_a_specifier(pypi: FakePyPI) -> None:
    result = await call(
        pypi,
        "package_releases",
        {
            "name": "Demo-Pkg",
            "specifier": ">=1.0, <2",
            "include_prereleases": True,
            "include_yanked": True,
            "limit": 2,
        },
    )

    assert result["specifier"] == "<2,>=1.0"
    assert result["total"] == 3
    assert [r["version"] for r in result["releases"]] == ["1.1.0rc1", "1.0.1"]
    assert result["latest_match"] == "1.1.0rc1"


async def test_package_releases_with_no_match(pypi: FakePyPI) -> None:
    result = await call(pypi, "package_releases", {"name": "Demo-Pkg", "specifier": ">=3"})

    assert result["latest_match"] is None
    assert result["releases"] == []


async def test_package_releases_rejects_a_bad_specifier_before_fetching(pypi: FakePyPI) -> None:
    message = await error(pypi, "package_releases", {"name": "Demo-Pkg", "specifier": "=>1"})

    assert "'=>1' is not a PEP 440 specifier" in message
    assert pypi.requests == []


@pytest.mark.parametrize(
    ("arguments", "satisfied", "failing"),
    [
        ({"version": "1.4.2", "specifier": "~=1.4"}, True, []),
        ({"version": "2.0", "specifier": ">=1.0,<2"}, False, ["<2"]),
        ({"version": "2.0rc1", "specifier": ">=1.0"}, False, []),
        ({"version": "2.0rc1", "specifier": ">=1.0", "include_prereleases": True}, True, []),
        ({"version": "2.0rc1", "specifier": ">=2.0rc1"}, True, []),
        ({"version": "v1.0", "specifier": "==1.0.0"}, True, []),
    ],
)
async def test_version_satisfies(
    pypi: FakePyPI, arguments: dict[str, Any], satisfied: bool, failing: list[str]
) -> None:
    result = await call(pypi, "version_satisfies", arguments)

    assert result["satisfied"] is satisfied
    assert result["failing_clauses"] == failing
    assert pypi.requests == []


async def test_version_satisfies_explains_an_excluded_prerelease(pypi: FakePyPI) -> None:
    result = await call(pypi, "version_satisfies", {"version": "2.0rc1", "specifier": ">=1.0"})

    assert (
        result["explanation"] == "2.0rc1 is a pre-release; set `include_prereleases` to accept it"
    )


async def test_version_satisfies_normalizes() -> None:
    async with Client(create_server(base_url="http://127.0.0.1:9")) as client:
        result = await client.call_tool(
            "version_satisfies", {"version": "V1.0-RC.1", "specifier": ">= 1.0rc1"}
        )

    assert result.structured_content == {
        "version": "1.0rc1",
        "specifier": ">=1.0rc1",
        "satisfied": True,
        "prerelease": True,
        "failing_clauses": [],
        "explanation": "1.0rc1 satisfies >=1.0rc1",
    }


async def test_version_satisfies_rejects_invalid_versions(pypi: FakePyPI) -> None:
    message = await error(pypi, "version_satisfies", {"version": "latest", "specifier": ">1"})

    assert "'latest' is not a PEP 440 version" in message


async def test_base_url_comes_from_the_environment(
    pypi: FakePyPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYPI_BASE_URL", pypi.base_url)

    async with Client(create_server()) as client:
        result = await client.call_tool("package_info", {"name": "Demo-Pkg"})

    assert result.structured_content is not None
    assert result.structured_content["version"] == "2.0.0"
    assert pypi.requests == ["/pypi/Demo-Pkg/json"]


def test_base_url_defaults_to_pypi() -> None:
    assert base_url_from({}) == "https://pypi.org/pypi"
    assert base_url_from({"PYPI_BASE_URL": " "}) == "https://pypi.org/pypi"


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="must start with http"):
        create_server(base_url="ftp://mirror.example.com/pypi")
