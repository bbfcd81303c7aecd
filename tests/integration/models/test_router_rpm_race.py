"""A team's requests per minute hold for requests arriving together: each is counted before the
budget check's database read, during which the others used to pass the count unchecked."""

from __future__ import annotations

import asyncio

from agents.models.errors import TeamRateLimitError
from agents.models.layer import ModelLayer
from tests.integration.models.conftest import openai
from tests.integration.models.test_router import WHO, chat, configure, usage_rows


async def test_requests_arriving_together_stay_within_rpm(
    layer: ModelLayer, provider_url: str
) -> None:
    limits = {"research": {"rpm": 2, "budget": 100}}
    await configure(layer, [openai(provider_url, "ok")], teams=limits)
    results = await asyncio.gather(
        *(layer.router.complete(chat(), WHO) for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, TeamRateLimitError)]
    assert len(refused) == 4, results
    assert len(await usage_rows(layer)) == 2
