"""Sandbox failures a caller can act on; their messages never contain secrets."""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every failure to build, start or talk to a sandboxed tool server."""


class SandboxStartError(SandboxError):
    """The server did not start or did not finish `initialize`; `log` holds its stderr tail."""

    def __init__(self, message: str, log: str = "") -> None:
        self.log = log
        super().__init__(message + (f"\n--- server log (last lines) ---\n{log}" if log else ""))


class SandboxCrashedError(SandboxError):
    """The server exited or broke the protocol; the sandbox is discarded and replaced."""


class SandboxTimeoutError(SandboxError):
    """A call ran past its time limit; it was cancelled and the sandbox recycled."""


class OutputSchemaError(SandboxError):
    """The MCP client refused a tool's result: its structured content is missing or does not
    match the tool's output schema (or that schema is unusable). The server stays in use.

    Named like the call path's own output check, so the audit log groups both the same way."""


def refused_output(server: str, tool: str, exc: RuntimeError) -> OutputSchemaError:
    """The SDK client's refusal of `tool`'s result (a bare `RuntimeError`), as a caller's error."""
    detail = str(exc).partition("\n")[0]
    return OutputSchemaError(
        f"{server}: the server's result for tool {tool!r} was refused: {detail}. A tool that "
        "declares an `outputSchema` must return `structuredContent` matching it; only the "
        "server's publisher can fix this"
    )
