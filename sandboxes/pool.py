"""Warm pools: already-initialised servers waiting, so a new session starts in milliseconds.

A stdio server keeps state per client, so a sandbox serves one session and is then discarded;
the pool keeps `size` fresh ones ready. An idle pool drains itself after `idle_timeout`, and no
sandbox outlives `max_lifetime`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

from anyio.abc import TaskGroup

from sandboxes.sandbox import Sandbox


class WarmPool:
    def __init__(
        self,
        start: Callable[[], Awaitable[Sandbox]],
        *,
        tasks: TaskGroup,
        size: int = 1,
        idle_timeout: float = 600.0,
        max_lifetime: float = 3600.0,
    ) -> None:
        self._start = start
        self._tasks = tasks
        self.size = size
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self._idle: deque[Sandbox] = deque()
        self._starting = 0
        self._last_used = time.monotonic()
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def acquire(self) -> Sandbox:
        """A healthy initialised sandbox: a warm one if there is, else a new one."""
        self._last_used = time.monotonic()
        try:
            while self._idle:
                sandbox = self._idle.popleft()
                if self._healthy(sandbox):
                    return sandbox
                await sandbox.close()
            return await self._start()
        finally:
            self.refill()

    def refill(self) -> None:
        """Start sandboxes in the background until `size` are idle or starting."""
        missing = self.size - len(self._idle) - self._starting
        for _ in range(max(0, missing)):
            self._starting += 1
            self._tasks.start_soon(self._add_one)

    async def _add_one(self) -> None:
        try:
            sandbox = await self._start()
        except Exception:
            return
        finally:
            self._starting -= 1
        if self._closed:
            await sandbox.close()
        else:
            self._idle.append(sandbox)

    def _healthy(self, sandbox: Sandbox) -> bool:
        """Alive (its output has not ended) and young enough; no request needed to know."""
        return (
            not sandbox.broken and sandbox.client is not None and (sandbox.age <= self.max_lifetime)
        )

    async def expire(self) -> None:
        """Drop idle sandboxes that are too old, and all of them once the pool sat unused."""
        unused = time.monotonic() - self._last_used > self.idle_timeout
        keep: deque[Sandbox] = deque()
        while self._idle:
            sandbox = self._idle.popleft()
            if unused or sandbox.broken or sandbox.age > self.max_lifetime:
                await sandbox.close()
            else:
                keep.append(sandbox)
        self._idle = keep
        if not unused:
            self.refill()

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.popleft().close()
