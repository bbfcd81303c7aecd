"""Per-team admission: requests and tokens per minute, and the budget for the period.

The per-minute windows are this process's (each replica counts its own traffic); budgets come
from the usage table, so every replica sees the same spending within the ledger's refresh.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from agents.models.config import TeamLimits
from agents.models.errors import BudgetExceededError, TeamRateLimitError
from agents.models.ledger import UsageLedger, next_period, period_start

WINDOW = 60.0


class TeamLimiter:
    def __init__(self, ledger: UsageLedger, clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._tokens: dict[str, deque[tuple[float, int]]] = {}

    async def admit(self, team: str, limits: TeamLimits | None) -> None:
        """Count one request for `team`, or raise the typed error saying which limit is hit."""
        if limits is None:
            return
        now = self._clock()
        requests = self._requests.setdefault(team, deque())
        tokens = self._tokens.setdefault(team, deque())
        while requests and now - requests[0] >= WINDOW:
            requests.popleft()
        while tokens and now - tokens[0][0] >= WINDOW:
            tokens.popleft()
        if limits.rpm is not None and len(requests) >= limits.rpm:
            raise TeamRateLimitError(
                f"team `{team}` has used its {limits.rpm} model requests per minute; "
                "try again shortly or ask an admin to raise `rpm` in the model file",
                retry_after=WINDOW - (now - requests[0]),
            )
        if limits.tpm is not None and sum(n for _, n in tokens) >= limits.tpm:
            raise TeamRateLimitError(
                f"team `{team}` has used its {limits.tpm} model tokens per minute; "
                "try again shortly or ask an admin to raise `tpm` in the model file",
                retry_after=WINDOW - (now - tokens[0][0]),
            )
        # Counted before the budget's read of the database: requests arriving meanwhile see it.
        requests.append(now)
        if limits.budget is not None:
            moment = datetime.now(UTC)
            spent = await self._ledger.spent(team, period_start(limits.period, moment))
            if spent >= limits.budget:
                requests.remove(now)
                renews = next_period(limits.period, moment).date().isoformat()
                raise BudgetExceededError(
                    f"team `{team}` has spent {spent:.4f} of its {limits.budget:g} model budget "
                    f"for this {limits.period} (renews {renews}); ask an admin to raise "
                    f"`teams.{team}.budget` in the model file"
                )

    def used(self, team: str, tokens: int) -> None:
        self._tokens.setdefault(team, deque()).append((self._clock(), tokens))
