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


class Readers:
    """Tasks reading `ECHO` of their number, each keeping its answer; the one started with
    `lead` reads 0 inside `leader`, a scope the test cancels."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self.answers: dict[int, Any] = {}
        self.leader = anyio.CancelScope()

    async def read(self, n: int) -> None:
        self.answers[n] = await self.reads.rows(ECHO, {"n": n})

    async def lead(self) -> None:
        with self.leader:
            await self.read(0)


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
    readers = Readers(reads)
    async with anyio.create_task_group() as tasks:
        for n in range(20):
            tasks.start_soon(readers.read, n)
    assert readers.answers == {n: [(n,)] for n in range(20)}
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
    readers = Readers(reads)
    gate = threading.Event()
    read_waiting = reads._read_waiting

    def held(leader: Any) -> None:
        gate.wait(10)
        read_waiting(leader)

    monkeypatch.setattr(reads, "_read_waiting", held)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(readers.lead)
            for n in range(1, 6):
                tasks.start_soon(readers.read, n)
            await anyio.wait_all_tasks_blocked()
            readers.leader.cancel()
            gate.set()
    answered = {n: readers.answers[n] for n in range(1, 6)}
    assert answered == {n: [(n,)] for n in range(1, 6)}


async def test_when_the_leader_is_cancelled_before_its_hop_starts_the_next_read_leads(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = services.reads
    threads = anyio.CapacityLimiter(1)
    monkeypatch.setattr(reads, "_threads", threads)
    readers = Readers(reads)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks, threads:
            # Every worker thread is busy (the test holds the one): the hop waits for it.
            tasks.start_soon(readers.lead)
            await anyio.wait_all_tasks_blocked()
            for n in range(1, 6):
                tasks.start_soon(readers.read, n)
            await anyio.wait_all_tasks_blocked()
            readers.leader.cancel()
            await anyio.wait_all_tasks_blocked()
    assert readers.leader.cancelled_caught
    assert readers.answers == {n: [(n,)] for n in range(1, 6)}
    assert await reads.rows(ECHO, {"n": 7}) == [(7,)]
