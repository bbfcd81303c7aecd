"""Reads that arrive together share a worker-thread hop, and each still gets its own answer,
its own error, and its answer although the request that led the hop went away."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from switchboard.db import Reads
from switchboard.services import Services

ECHO = sa.select(sa.bindparam("n", type_=sa.Integer))
MISSING: sa.Select[Any] = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))


def counting_hops(reads: Reads, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each hop's batch, in order."""
    sizes: list[int] = []
    read_waiting = reads._read_waiting

    def counted(leader: Any) -> None:
        read_waiting(leader)
        sizes.append(len(leader.batch))

    monkeypatch.setattr(reads, "_read_waiting", counted)
    return sizes


async def test_concurrent_reads_share_hops_and_keep_their_own_answers(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = services.reads
    sizes = counting_hops(reads, monkeypatch)
    answers: dict[int, Any] = {}

    async def read(n: int) -> None:
        answers[n] = await reads.rows(ECHO, {"n": n})

    async with anyio.create_task_group() as tasks:
        for n in range(20):
            tasks.start_soon(read, n)
    assert answers == {n: [(n,)] for n in range(20)}
    assert sum(sizes) == 20
    assert len(sizes) < 20, f"every read took a hop of its own: {sizes}"


async def test_a_failing_read_fails_alone(services: Services) -> None:
    reads = services.reads
    outcomes: dict[str, Any] = {}

    async def read(name: str, statement: sa.Select[Any], params: dict[str, Any]) -> None:
        try:
            outcomes[name] = await reads.rows(statement, params)
        except Exception as exc:
            outcomes[name] = exc

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read, "before", ECHO, {"n": 1})
        tasks.start_soon(read, "broken", MISSING, {})
        tasks.start_soon(read, "after", ECHO, {"n": 2})
    assert outcomes["before"] == [(1,)]
    assert outcomes["after"] == [(2,)]
    assert "no_such_table" in str(outcomes["broken"])
    assert await reads.rows(ECHO, {"n": 3}) == [(3,)], "the reads go on after a failure"


async def test_reads_that_rode_along_are_answered_when_the_leader_is_cancelled(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = services.reads
    answers: dict[int, Any] = {}
    leader = anyio.CancelScope()
    gate = threading.Event()
    read_waiting = reads._read_waiting

    def held(leader: Any) -> None:
        gate.wait(10)
        read_waiting(leader)

    monkeypatch.setattr(reads, "_read_waiting", held)

    async def read(n: int) -> None:
        answers[n] = await reads.rows(ECHO, {"n": n})

    async def lead() -> None:
        with leader:
            await read(0)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lead)
            for n in range(1, 6):
                tasks.start_soon(read, n)
            await anyio.wait_all_tasks_blocked()
            leader.cancel()
            gate.set()
    assert {n: answers[n] for n in range(1, 6)} == {n: [(n,)] for n in range(1, 6)}


async def test_when_the_leader_is_cancelled_before_its_hop_starts_the_next_read_leads(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = services.reads
    threads = anyio.CapacityLimiter(1)
    monkeypatch.setattr(reads, "_threads", threads)
    answers: dict[int, Any] = {}
    leader = anyio.CancelScope()

    async def read(n: int) -> None:
        answers[n] = await reads.rows(ECHO, {"n": n})

    async def lead() -> None:
        with leader:
            await read(0)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks, threads:
            # Every worker thread is busy (the test holds the one): the hop waits for it.
            tasks.start_soon(lead)
            await anyio.wait_all_tasks_blocked()
            for n in range(1, 6):
                tasks.start_soon(read, n)
            await anyio.wait_all_tasks_blocked()
            leader.cancel()
            await anyio.wait_all_tasks_blocked()
    assert leader.cancelled_caught
    assert answers == {n: [(n,)] for n in range(1, 6)}
    assert await reads.rows(ECHO, {"n": 7}) == [(7,)]
