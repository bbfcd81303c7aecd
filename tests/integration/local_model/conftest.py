"""Fixtures for tests of the embedded model: the real llama.cpp server on SmolLM2-135M-Instruct.

Tests marked `local_model`, in any folder, run after all the others: under `make test` the
model's runtime may still be compiling in the background, and they wait for it (see
`tests/local_model_runtime.py`) while everything else has already run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.local_model import LocalModelServer
from tests.local_model_runtime import require_local_model_runtime


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("local_model") is not None)


@pytest.fixture(scope="session")
def gguf() -> Path:
    return require_local_model_runtime()


@pytest.fixture
async def local_model(gguf: Path) -> AsyncIterator[LocalModelServer]:
    async with LocalModelServer(model_path=gguf, context=4096) as server:
        yield server
