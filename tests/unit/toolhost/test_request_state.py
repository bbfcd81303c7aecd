"""A server's `requestState` reaches the caller sealed, and comes back to the server only from
that caller, for that request, unaltered and in time."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from registry.secretbox import SecretBox
from tests.unit.toolhost.conftest import Clock
from toolhost.request_state import LIFETIME_SECONDS, RequestStates

ALICE = "alice\ntools/call fixture.ask\n7"


@pytest.fixture
def states(clock: Clock) -> RequestStates:
    return RequestStates(SecretBox(secrets.token_bytes(32)), clock)


def refused(states: RequestStates, binding: str, token: str) -> MCPError:
    with pytest.raises(MCPError) as caught:
        states.open(binding, token)
    return caught.value


def test_the_state_round_trips_and_is_not_readable(states: RequestStates) -> None:
    token = states.seal(ALICE, '{"round": 1, "name": "Ada"}')
    assert "Ada" not in token
    assert states.open(ALICE, token) == '{"round": 1, "name": "Ada"}'
    assert states.seal(ALICE, "x") != states.seal(ALICE, "x"), "a fresh nonce each time"


@pytest.mark.parametrize(
    "other",
    [
        "bob\ntools/call fixture.ask\n7",
        "alice\ntools/call fixture.other\n7",
        "alice\nprompts/get ask\n7",
        "alice\ntools/call fixture.ask\n8",
    ],
    ids=["another caller", "another tool", "another method", "another version"],
)
def test_a_state_echoed_by_another_caller_or_for_another_request_is_refused(
    states: RequestStates, other: str
) -> None:
    error = refused(states, other, states.seal(ALICE, "round-1"))
    assert error.error.code == types.INVALID_PARAMS
    assert error.error.message == "Invalid or expired requestState: retry the request without it"
    assert error.error.data == {"reason": "invalid_request_state"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t + "-TAMPERED",
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
        lambda t: t.removeprefix("sb1."),
        lambda t: "sb1.",
        lambda t: "sb1.!!!not base64!!!",
        lambda t: "round-1",
    ],
    ids=["suffix", "one character", "no prefix", "empty", "not base64", "the server's own"],
)
def test_an_altered_state_is_refused(states: RequestStates, tamper: Callable[[str], str]) -> None:
    token = states.seal(ALICE, "round-1")
    assert refused(states, ALICE, tamper(token)).error.code == types.INVALID_PARAMS


def test_a_state_expires(states: RequestStates, clock: Clock) -> None:
    token = states.seal(ALICE, "round-1")
    clock.now += LIFETIME_SECONDS - 1
    assert states.open(ALICE, token) == "round-1"
    clock.now += 2
    assert refused(states, ALICE, token).error.code == types.INVALID_PARAMS


def test_a_state_sealed_with_another_key_is_refused(states: RequestStates) -> None:
    elsewhere = RequestStates(SecretBox(secrets.token_bytes(32)))
    assert refused(states, ALICE, elsewhere.seal(ALICE, "round-1")).error.code == -32602
