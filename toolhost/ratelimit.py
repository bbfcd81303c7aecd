"""Token buckets for tool calls: per caller and per tool, in this process.

A bucket holds up to one minute's allowance and refills continuously, so a caller may burst to
its per-minute limit and then proceeds at the steady rate. A limit of 0 turns a bucket off.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token for `key`: 0 when allowed, else the seconds until one is available."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled carry no state worth keeping."""
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self._rate >= self.per_minute:
                del self._buckets[key]
        while len(self._buckets) >= MAX_KEYS:
            del self._buckets[next(iter(self._buckets))]


class CallLimits:
    """Both limits a call must pass; the caller's is taken first, so a throttled caller does
    not use up a tool's allowance that others share."""

    def __init__(self, per_caller: int, per_tool: int) -> None:
        self.callers = TokenBuckets(per_caller)
        self.tools = TokenBuckets(per_tool)

    def check(self, caller: str, tool: str) -> int:
        """0 when the call may go ahead, else whole seconds to wait (for `Retry-After`)."""
        wait = self.callers.take(caller) or self.tools.take(tool)
        return math.ceil(wait) if wait else 0
