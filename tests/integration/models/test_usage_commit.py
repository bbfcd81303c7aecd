"""A `/v1` call's usage row and audit record commit together, in one group-commit batch, before
the answer; usage without an audit record (agent runs) rides the same writer."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from agents.models.tables import ModelUsage
from switchboard.audit.log import Event
from switchboard.audit.verification import verify
from switchboard.audit.writer import AuditWriter, Row
from switchboard.services import Services
from tests.integration.models.test_openai_api import audit_records, http, setup

REQUEST = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}


async def usage_rows(services: Services) -> list[ModelUsage]:
    async with services.sessions() as session:
        return list((await session.exec(select(ModelUsage))).all())


async def test_usage_and_audit_share_one_commit(
    app: Starlette, provider_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-123")
    layer, token = await setup(app, provider_url)
    writer = layer.audit
    assert writer is not None
    async with http(app, token) as client:
        before = writer.batches
        response = await client.post("/v1/chat/completions", json=REQUEST)
        assert response.status_code == 200, response.text
        assert writer.batches == before + 1, "usage and audit record: one transaction"
        [usage] = await usage_rows(app.state.services)
        assert (usage.user, usage.team, usage.input_tokens, usage.output_tokens) == (
            "dora",
            "lab",
            10,
            5,
        )
        [record] = await audit_records(app)
        assert record.detail["input_tokens"] == usage.input_tokens
        streamed = {**REQUEST, "stream": True}
        async with client.stream("POST", "/v1/chat/completions", json=streamed) as stream:
            lines = [line async for line in stream.aiter_lines() if line]
        assert lines[-1] == "data: [DONE]"
    assert len(await usage_rows(app.state.services)) == len(await audit_records(app)) == 2


async def test_rows_alone_and_with_events_keep_the_chain(services: Services) -> None:
    writer = AuditWriter(services.settings.effective_database_url)

    def usage(n: int) -> Row:
        values = ModelUsage(
            alias="a", deployment="d", provider="openai", model="m", user=f"u{n}", team="t"
        ).model_dump(exclude={"id"})
        return ModelUsage.__table__, values  # type: ignore[attr-defined]

    async with writer.running(), anyio.create_task_group() as tasks:
        for n in range(60):
            if n % 2:
                tasks.start_soon(writer.insert, [usage(n)])
            else:
                event = Event("caller", "model.completion", "ok", f"t{n}")
                tasks.start_soon(partial(writer.write, event, rows=[usage(n)]))
    checked, broken = await verify(services.sessions)
    assert (checked, broken) == (30, None)
    async with services.sessions() as session:
        count = (await session.exec(select(func.count()).select_from(ModelUsage))).one()
    assert count == 60
    assert writer.batches < 60, "rows waiting together share one commit"
