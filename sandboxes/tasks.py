"""The tasks extension's shapes (MCP 2026-07-28, SEP-2663, `io.modelcontextprotocol/tasks`), as a
hosted server sends them: the SDK does not ship the extension.

A caller that declares the extension may get a `CreateTaskResult` from a task-supporting tool
instead of waiting for it; the task then runs on in the server that created it, and the caller
polls `tasks/get` (which inlines the result once the task ends), answers the questions it parks
on with `tasks/update`, and stops it with `tasks/cancel`.
"""

from __future__ import annotations

from typing import Any, Literal

import mcp_types as types
from pydantic import Field

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class Task(types.Result):
    """What `CreateTaskResult` and `tasks/get` both carry."""

    task_id: str = Field(min_length=1)
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = Field(default=None, gt=0)
    poll_interval_ms: int | None = Field(default=None, gt=0)


class CreatedTask(Task):
    """A tool's answer that it runs as a task (`resultType: "task"`)."""

    result_type: Literal["task"] = "task"


class DetailedTask(Task):
    """`tasks/get`: by status, the tool's result, the protocol error, or the open questions."""

    result: types.CallToolResult | None = None
    error: types.ErrorData | None = None
    input_requests: dict[str, types.InputRequest] | None = None


def declares_tasks(capabilities: Any) -> bool:
    """Whether `capabilities` (a `ClientCapabilities`, or its wire form) declare the extension."""
    if isinstance(capabilities, types.ClientCapabilities):
        return bool(capabilities.extensions and TASKS_EXTENSION in capabilities.extensions)
    if isinstance(capabilities, dict):
        extensions = capabilities.get("extensions")
        return isinstance(extensions, dict) and TASKS_EXTENSION in extensions
    return False
