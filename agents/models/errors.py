"""What can go wrong routing a model call, as one type per failure a caller can act on.

Each error has an HTTP status and an OpenAI-style `code`, so `/v1` answers them in the wire
format clients expect and the agent engine can show `str(error)` as a run's stop reason.
"""

from __future__ import annotations


class ModelLayerError(Exception):
    """Base of every routed-model failure that reaches a caller."""

    status_code = 500
    code = "model_error"
    retry_after: float | None = None


class UnknownModelError(ModelLayerError):
    status_code = 404
    code = "model_not_found"


class InvalidModelRequestError(ModelLayerError):
    """The request itself is wrong (the provider said so, or it is not a chat request)."""

    status_code = 400
    code = "invalid_request"


class BudgetExceededError(ModelLayerError):
    """The team has spent its budget for the current period."""

    status_code = 429
    code = "budget_exceeded"


class TeamRateLimitError(ModelLayerError):
    """The team's requests or tokens per minute are used up; `retry_after` says for how long."""

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AllDeploymentsFailedError(ModelLayerError):
    """Every deployment of the alias failed (or was cooling down); `failures` says how each did."""

    status_code = 502
    code = "all_deployments_failed"

    def __init__(self, alias: str, failures: list[str]) -> None:
        super().__init__(
            f"every deployment of model `{alias}` failed: {'; '.join(failures)}"
            if failures
            else f"model `{alias}` has no deployment to try"
        )
        self.failures = failures
