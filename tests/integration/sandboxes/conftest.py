"""Fixtures for tests on the real Docker engine: images, a runtime, the example wheels."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import docker
import pytest

from sandboxes.images import BuiltImage, ImageBuilder, ImageSpec
from sandboxes.runtime import SandboxRuntime, open_runtime
from tests.wheels import build_wheels

ROOT = Path(__file__).parents[3]
EXAMPLES = ("clock", "calculator", "pypi-info")
HOSTILE = ImageSpec("pypi", "switchboard-test-hostile", "0.1.0")
"""`tests/fixtures/hostile`: a server whose tools misbehave on request."""


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the bundled examples, which sandboxes install although they are not on PyPI."""
    examples = (ROOT / "examples" / name for name in EXAMPLES)
    return build_wheels(tmp_path_factory.mktemp("wheelhouse"), *examples)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def owner() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def runtime(
    owner: str, wheelhouse: Path
) -> Callable[[], AbstractAsyncContextManager[SandboxRuntime]]:
    """Opened inside each test: its task group must be entered and left by the test's task."""
    return lambda: open_runtime(
        owner=owner,
        wheelhouse=wheelhouse,
        pool_size=1,
        idle_timeout=600,
        max_lifetime=3600,
        start_timeout=60,
    )


@pytest.fixture(scope="module")
def hostile_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> BuiltImage:
    wheels = build_wheels(
        tmp_path_factory.mktemp("hostile-wheels"), ROOT / "tests" / "fixtures" / "hostile"
    )
    return ImageBuilder(docker_client, wheelhouse=wheels).ensure(HOSTILE)
