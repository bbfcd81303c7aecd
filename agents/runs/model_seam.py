"""How the run engine gets its models: an alias and whom to charge, in; a pydantic-ai model
out. The routed model layer serves it in Switchboard; tests pass a `FunctionModel`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from pydantic_ai.models import Model

from agents.availability import DEFAULT_MODELS
from agents.models.layer import ModelLayer
from agents.models.router import Attribution as RouterAttribution


@dataclass(frozen=True)
class Attribution:
    """Whom a run's model calls are charged to."""

    run_id: str
    user: str
    team: str


ModelFor = Callable[[str, Attribution], Model]
"""The routed model for an alias, charged to the attribution (tests pass a `FunctionModel`)."""


class NoModelLayerError(RuntimeError):
    """No routed model layer was given to the engine."""


async def default_models() -> Collection[str]:
    return DEFAULT_MODELS


def routed_models(
    layer: ModelLayer,
) -> tuple[ModelFor, Callable[[], Awaitable[Collection[str]]]]:
    """The engine's two model seams served by the routed model layer."""

    def model_for(alias: str, who: Attribution) -> Model:
        charged = RouterAttribution(user=who.user, team=who.team, run_id=who.run_id)
        return layer.model(alias, charged)

    async def known_models() -> Collection[str]:
        return set(await layer.router.aliases())

    return model_for, known_models


def no_model(alias: str, _: Attribution) -> Model:
    raise NoModelLayerError(
        f"no routed model layer is configured, so model `{alias}` cannot be called"
    )
