"""Run errors a person can act on; `web/` maps their status codes to HTTP."""

from __future__ import annotations

from registry.errors import InvalidStateError, NotFoundError, RegistryError


class RunNotFoundError(NotFoundError):
    """No such run, or not one the caller may see (the two are not told apart)."""


class RunFinishedError(InvalidStateError):
    """The run has ended (or is not waiting), so the request no longer applies."""


class NotLaunchableError(RegistryError):
    """The caller may not launch this agent now; the message lists why and what to do."""

    status_code = 403


class TooManyRunsError(RegistryError):
    """The caller already has as many runs waiting as they may; a launch is refused, not queued,
    so a script that launches in a loop cannot fill the queue."""

    status_code = 429


class NotYourRunError(RegistryError):
    status_code = 403
