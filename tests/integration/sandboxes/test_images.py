"""Tool-server images built on the real engine, installing from real PyPI and npm.

Builds are cached by recipe digest, so only the first run pays for debootstrap and installs.
"""

from __future__ import annotations

import io
import json
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import DockerException

from sandboxes.images import BuiltImage, ImageBuilder, ImageBuildError, ImageSpec

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("images")]  # module fixtures

ROOT = Path(__file__).resolve().parents[3]
TIME_VERSION = "2026.10.19"
EVERYTHING_VERSION = "2026.8.31"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "switchboard-tests", "version": "0"},
    },
}


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        engine = docker.from_env()
        engine.ping()
    except DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def builder(client: docker.DockerClient) -> ImageBuilder:
    return ImageBuilder(client)


@pytest.fixture(scope="module")
def time_image(builder: ImageBuilder) -> BuiltImage:
    return builder.ensure(ImageSpec("pypi", "mcp-server-time", TIME_VERSION))


class Session:
    """`docker run -i` of an image, talking over its stdin and stdout like the runtime will."""

    def __init__(self, image: str, *args: str) -> None:
        self.name = f"sb-test-{uuid.uuid4().hex[:12]}"
        self.process = subprocess.Popen(
            ["docker", "run", "-i", "--name", self.name, image, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.closed: tuple[int, str] | None = None

    def send(self, data: bytes) -> None:
        assert self.process.stdin
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def response(self, request_id: int, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdout
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.process.stdout], [], [], left)[0]:
                break
            line = self.process.stdout.readline()
            if not line:
                break
            message: dict[str, Any] = json.loads(line)
            if message.get("id") == request_id:
                return message
        pytest.fail(f"no response to request {request_id}; server stderr:\n{self.close()[1]}")

    def close(self) -> tuple[int, str]:
        """End stdin (the server exits on EOF); return the exit status and stderr. Idempotent."""
        if self.closed is None:
            try:
                _, stderr = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                _, stderr = self.process.communicate()
            finally:
                subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)
            self.closed = (self.process.returncode, stderr.decode(errors="replace"))
        return self.closed


def initialize(image: str, environment: bytes = b'{"FOO": "bar"}\n') -> dict[str, Any]:
    session = Session(image)
    try:
        session.send(environment + json.dumps(INITIALIZE).encode() + b"\n")
        return session.response(1)
    finally:
        session.close()


def run_once(image: str, stdin: bytes, *command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["docker", "run", "-i", "--rm", image, *command],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_base_is_built_once(builder: ImageBuilder, client: docker.DockerClient) -> None:
    first = builder.base()
    started = time.monotonic()
    assert builder.base() == first
    assert time.monotonic() - started < 5
    assert client.images.get("switchboard/base:latest").id == first


def test_pypi_image_runs_the_console_script(
    time_image: BuiltImage, client: docker.DockerClient
) -> None:
    config = client.images.get(time_image.image_id).attrs["Config"]
    assert time_image.command == ["/opt/server/bin/mcp-server-time"]
    assert config["Cmd"] == time_image.command
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "/usr/local/bin/sb-entry"]
    assert config["User"] == "10001:10001"
    assert config["Labels"]["dev.switchboard.managed"] == "true"
    assert time_image.tag.startswith("switchboard/tool-pypi-mcp-server-time:")
    assert client.images.get(time_image.tag).id == time_image.image_id

    result = initialize(time_image.image_id)
    assert result["result"]["serverInfo"]["name"]


def test_pypi_image_is_reused(builder: ImageBuilder, time_image: BuiltImage) -> None:
    started = time.monotonic()
    again = builder.ensure(ImageSpec("pypi", "mcp-server-time", TIME_VERSION))
    assert again.image_id == time_image.image_id
    assert again.command == time_image.command
    assert time.monotonic() - started < 10


def test_secrets_reach_the_server_but_not_docker_inspect(
    time_image: BuiltImage, client: docker.DockerClient
) -> None:
    result = run_once(
        time_image.image_id,
        b'{"FOO": "s3cret-value"}\nafter\n',
        "/opt/server/bin/python",
        "-c",
        "import os, sys; print(os.environ['FOO'], os.getuid(), sys.stdin.readline().strip())",
    )
    assert result.stdout.decode().split() == ["s3cret-value", "10001", "after"]

    session = Session(time_image.image_id)
    try:
        session.send(b'{"FOO": "s3cret-value"}\n' + json.dumps(INITIALIZE).encode() + b"\n")
        session.response(1)
        inspected = client.containers.get(session.name).attrs
        assert not any(item.startswith("FOO=") for item in inspected["Config"]["Env"])
        assert "s3cret-value" not in json.dumps(inspected)
    finally:
        session.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json\n", "is not JSON"),
        (b'["FOO"]\n', "not an object"),
        (b'{"FOO": 1}\n', "must be a string"),
        (b'{"FOO": "bar"}', "stdin ended before the first line"),
    ],
)
def test_malformed_first_line_exits_2(time_image: BuiltImage, line: bytes, message: str) -> None:
    result = run_once(time_image.image_id, line)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert b"bar" not in result.stderr


def test_wheelhouse_package_builds(client: docker.DockerClient, tmp_path: Path) -> None:
    clock = ROOT / "examples/clock"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path)]
    subprocess.run([*pip_wheel, str(clock)], check=True, capture_output=True)
    built = ImageBuilder(client, wheelhouse=tmp_path).ensure(
        ImageSpec("pypi", "switchboard-example-clock", "0.1.0")
    )
    assert built.command == ["/opt/server/bin/switchboard-example-clock"]
    assert initialize(built.image_id)["result"]["serverInfo"]["name"]


def test_npm_image_answers_initialize(builder: ImageBuilder, client: docker.DockerClient) -> None:
    built = builder.ensure(
        ImageSpec("npm", "@modelcontextprotocol/server-everything", EVERYTHING_VERSION)
    )
    assert built.tag.startswith("switchboard/tool-npm-modelcontextprotocol-server-everything:")
    assert built.command == [
        "/opt/node/bin/node",
        "/opt/server/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    ]
    assert client.images.get(built.image_id).attrs["Config"]["Cmd"] == built.command
    assert initialize(built.image_id)["result"]["serverInfo"]["name"]
    version = run_once(built.image_id, b"{}\n", "node", "--version").stdout.decode()
    assert version.startswith("v22.")


def test_missing_pypi_version_quotes_pip(builder: ImageBuilder) -> None:
    with pytest.raises(ImageBuildError) as caught:
        builder.ensure(ImageSpec("pypi", "mcp-server-time", "1999.1.1"))
    assert "mcp-server-time==1999.1.1" in str(caught.value)
    assert "No matching distribution" in str(caught.value)
    assert "No matching distribution" in caught.value.log


def test_ambiguous_console_scripts_are_named(builder: ImageBuilder) -> None:
    # jupyter-core has `jupyter`, `jupyter-migrate` and `jupyter-troubleshoot`.
    with pytest.raises(
        ImageBuildError, match=r"console script of `jupyter-core`.*`jupyter-migrate`"
    ):
        builder.ensure(ImageSpec("pypi", "jupyter-core", "5.7.2"))


def test_missing_oci_image_says_to_load_it(builder: ImageBuilder) -> None:
    with pytest.raises(ImageBuildError, match=r"not in the local Docker engine.*docker load"):
        builder.ensure(ImageSpec("oci", "switchboard-test/absent", "1"))


def test_local_oci_image_gets_the_secrets_entrypoint(
    builder: ImageBuilder, client: docker.DockerClient, time_image: BuiltImage
) -> None:
    dockerfile = (
        f"FROM {time_image.image_id}\nUSER root\nENTRYPOINT []\n"
        'CMD ["/opt/server/bin/mcp-server-time"]\n'
    )
    plain, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True, pull=False)
    plain.tag("switchboard-test/time-oci", "1")
    try:
        built = builder.ensure(ImageSpec("oci", "switchboard-test/time-oci", "1"))
    finally:
        client.images.remove("switchboard-test/time-oci:1")
    try:
        assert built.command == ["/opt/server/bin/mcp-server-time"]
        config = client.images.get(built.image_id).attrs["Config"]
        assert config["Entrypoint"][:2] == ["/usr/local/bin/sb-tini", "--"]
        assert initialize(built.image_id)["result"]["serverInfo"]["name"]
    finally:
        client.images.remove(built.tag)
