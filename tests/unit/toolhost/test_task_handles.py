"""A task id a caller sees is a handle only that caller can use, for as long as the task lives,
and it neither shows nor lets anyone alter where the task runs."""

from __future__ import annotations

import secrets

import pytest

from registry.secretbox import SecretBox
from sandboxes.tasks import CreatedTask
from tests.unit.toolhost.conftest import Clock
from toolhost.task_handles import Handle, TaskHandles

HANDLE = Handle(
    version_id=7,
    tool="fixture.slow_compute",
    session=None,
    lease="c0ffee00-3",
    task_id="task-1-abcd",
    created_at="2026-12-04T10:00:00.000Z",
    ttl_ms=60_000,
)


@pytest.fixture
def handles(clock: Clock) -> TaskHandles:
    return TaskHandles(SecretBox(secrets.token_bytes(32)), max_ttl_seconds=3600, clock=clock)


def created(ttl_ms: int | None) -> CreatedTask:
    return CreatedTask(
        task_id="task-1-abcd",
        status="working",
        created_at=HANDLE.created_at,
        last_updated_at=HANDLE.created_at,
        ttl_ms=ttl_ms,
    )


def test_a_handle_round_trips_for_its_caller_only(handles: TaskHandles) -> None:
    token = handles.hand_out("dana", HANDLE)
    assert token.startswith("sbt1.")
    for hidden in ("task-1-abcd", "slow_compute", "c0ffee00"):
        assert hidden not in token
    assert handles.take_back("dana", token) == HANDLE
    assert handles.take_back("eve", token) is None
    assert handles.hand_out("dana", HANDLE) != token, "a fresh nonce each time"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.replace("sbt1.", "sb1."),
        lambda t: t[:40],
        lambda t: "task-1-abcd",
        lambda t: t + "!",
    ],
    ids=["altered", "another kind of token", "cut short", "the server's own id", "not base64"],
)
def test_an_altered_or_made_up_handle_is_nobodys(handles: TaskHandles, tamper: object) -> None:
    token = handles.hand_out("dana", HANDLE)
    assert callable(tamper)
    assert handles.take_back("dana", tamper(token)) is None


def test_a_handle_lives_as_long_as_its_task(handles: TaskHandles, clock: Clock) -> None:
    token = handles.hand_out("dana", HANDLE)
    clock.now += 59.9
    assert handles.take_back("dana", token) == HANDLE
    clock.now += 0.2
    assert handles.take_back("dana", token) is None


def test_a_tasks_lifetime_is_the_servers_within_switchboards(handles: TaskHandles) -> None:
    assert handles.ttl_ms(created(60_000)) == 60_000
    assert handles.ttl_ms(created(10 * 3600 * 1000)) == 3600 * 1000
    assert handles.ttl_ms(created(None)) == 3600 * 1000, "no promise from the server"


def test_a_tasks_end_is_reported_once(handles: TaskHandles, clock: Clock) -> None:
    handles.hand_out("dana", HANDLE)
    assert handles.ended(HANDLE)
    assert not handles.ended(HANDLE)
    other = Handle(**{**HANDLE.__dict__, "task_id": "task-2-ef01"})
    handles.hand_out("dana", other)
    clock.now += 61
    handles.hand_out("dana", HANDLE)
    assert not handles.ended(other), "forgotten once it expired"
