"""The task ids a caller sees: handles sealed to that caller, naming where the task runs.

A server's own task id means something only to the sandbox that created it. Switchboard hands
the caller a handle instead (`toolhost.sealed`), which names the server version, the tool, the
lease whose sandbox runs the task and the server's id, and lives as long as the task may: the
server's `ttlMs`, at most SWITCHBOARD_TASK_TTL_SECONDS. Only the caller it was handed to can
use it, and nobody can make one up or read what it names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pydantic import TypeAdapter, ValidationError

from registry.secretbox import SecretBox
from sandboxes.tasks import CreatedTask
from toolhost.sealed import Seals

PREFIX = "sbt1."


@dataclass(frozen=True)
class Handle:
    version_id: int
    tool: str
    """The tool's name in the catalogue, `<server-slug>.<tool>`."""
    session: str | None
    """The handshake-era session whose lease runs the task (`None` on 2026-07-28)."""
    lease: str
    task_id: str
    """The server's own id for the task."""
    created_at: str
    ttl_ms: int


_HANDLE = TypeAdapter(Handle)


class TaskHandles:
    def __init__(
        self, box: SecretBox, max_ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._seals = Seals(box, "mcp-task", PREFIX, clock)
        self._clock = clock
        self.max_ttl_ms = int(max_ttl_seconds * 1000)
        self._unended: dict[tuple[str, str], float] = {}
        """Tasks handed out whose end no `tasks/get` has seen yet, until they expire."""

    def ttl_ms(self, task: CreatedTask) -> int:
        """How long the caller may reach `task`: the server's promise, within Switchboard's."""
        return min(task.ttl_ms or self.max_ttl_ms, self.max_ttl_ms)

    def hand_out(self, caller: str, handle: Handle) -> str:
        now = self._clock()
        for key in [k for k, until in self._unended.items() if until < now]:
            del self._unended[key]
        self._unended[(handle.lease, handle.task_id)] = now + handle.ttl_ms / 1000
        return self._seals.seal(caller, asdict(handle), handle.ttl_ms / 1000)

    def take_back(self, caller: str, token: str) -> Handle | None:
        """The handle `token` is, if it was handed to `caller` and has not expired."""
        payload = self._seals.open(caller, token)
        if payload is None:
            return None
        try:
            return _HANDLE.validate_python(payload)
        except ValidationError:
            return None

    def ended(self, handle: Handle) -> bool:
        """True the first time the end of `handle`'s task is seen, so it is audited once."""
        return self._unended.pop((handle.lease, handle.task_id), None) is not None
