"""A 2026-07-28 caller answers a hosted server's questions itself (SEP-2322): the server's
`InputRequiredResult` reaches the caller with its `requestState` sealed to that caller, and
only that caller's retry reaches the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from registry.models import Role
from tests.conftest import user_with_token
from tests.integration.toolhost.conftest import Hosted, HostedFactory
from tests.integration.toolhost.test_call_path import text_of, tool_calls

pytestmark = pytest.mark.docker

QUESTION = {"question": "What is your name?"}
ANSWER: types.InputResponses = {
    "answer": types.ElicitResult(action="accept", content={"answer": "Ada"})
}


@asynccontextmanager
async def connected_as(world: Hosted, token: str, **callbacks: Any) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(world.server.mcp_url, http_client=http), **callbacks) as c,
    ):
        yield c


async def test_the_caller_answers_and_no_one_else_can(hosted: HostedFactory) -> None:
    async with hosted() as world:
        eve = await user_with_token(world.server.services, "eve", Role.developer, ["mcp"])
        async with connected_as(world, world.token) as dana, connected_as(world, eve) as other:
            assert dana.protocol_version == "2026-07-28"
            asked = await dana.session.call_tool("hostile.ask", QUESTION, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult), asked
            assert asked.input_requests is not None
            (question,) = asked.input_requests.values()
            assert isinstance(question, types.ElicitRequest)
            assert question.params.message == "What is your name?"
            state = asked.request_state
            assert state is not None
            assert state.startswith("sb1.")
            assert "asked" not in state, "the server's own state is sealed"

            for intruder, echoed in ((other, state), (dana, state[:-3] + "AAA")):
                with pytest.raises(MCPError) as refused:
                    await intruder.session.call_tool(
                        "hostile.ask",
                        QUESTION,
                        input_responses=ANSWER,
                        request_state=echoed,
                        allow_input_required=True,
                    )
                assert refused.value.error.code == types.INVALID_PARAMS
                assert "Invalid or expired requestState" in refused.value.error.message

            done = await dana.session.call_tool(
                "hostile.ask",
                QUESTION,
                input_responses=ANSWER,
                request_state=state,
                allow_input_required=True,
            )
            assert isinstance(done, types.CallToolResult)
            assert text_of(done) == "answered: Ada"

        async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            return types.ElicitResult(action="accept", content={"answer": "Grace"})

        async with connected_as(world, world.token, elicitation_callback=elicit) as driven:
            result = await driven.call_tool("hostile.ask", QUESTION)
            assert text_of(result) == "answered: Grace", "the SDK client drives the rounds"

        calls = [(r.actor, r.outcome) for r in await tool_calls(world)]
        assert calls == [
            ("dana", "input_required"),
            ("eve", "rejected"),
            ("dana", "rejected"),
            ("dana", "ok"),
            ("dana", "input_required"),
            ("dana", "ok"),
        ]
