"""The prebuilt agents: each file is a valid agent document using only tools the bundled
example servers really offer, and says a configured model does better."""

from __future__ import annotations

import pytest

from agents.catalog import catalog_files, load_catalog
from agents.spec import AgentDocument
from tests.example_servers import example_tool_names, tasks_tools

CATALOG = load_catalog()


def test_at_least_three_agents_with_unique_names() -> None:
    names = [agent.name for agent in CATALOG]
    assert len(names) >= 3
    assert len(set(names)) == len(names)
    assert [path.stem for path in catalog_files()] == names


@pytest.mark.parametrize("agent", CATALOG, ids=lambda a: a.name)
async def test_tools_exist_in_the_example_servers(agent: AgentDocument) -> None:
    offered = await example_tool_names()
    assert agent.switchboard.tools
    for ref in agent.switchboard.tools:
        slug, _, tool = ref.partition(".")
        assert slug in offered, ref
        assert not tool or tool in offered[slug], f"{ref}: {sorted(offered[slug])}"
    for ref in agent.switchboard.approval.always + agent.switchboard.approval.never:
        assert ref in agent.switchboard.tools, ref


@pytest.mark.parametrize("agent", CATALOG, ids=lambda a: a.name)
def test_summary_form_and_prompt(agent: AgentDocument) -> None:
    block = agent.switchboard
    assert "configured model provider" in block.summary
    assert "far better" in block.summary
    assert block.questions, "a launch form"
    assert all(q.help or q.type in ("date", "boolean", "select") for q in block.questions)
    assert block.model == "default"
    assert len(str(agent.spec.instructions)) < 800, "short enough for a 135M-parameter model"
    required = {q.key: q.default for q in block.questions if q.required and q.default is None}
    assert agent.prompt_for(dict.fromkeys(required, "x"))


def test_one_agent_changes_something_and_so_waits_for_approval() -> None:
    writes = {
        t.name
        for t in tasks_tools()
        if not (t.tool.annotations and t.tool.annotations.read_only_hint)
    }
    needing = [
        ref
        for agent in CATALOG
        for ref in agent.switchboard.tools
        if ref.partition(".")[2] in writes
        and agent.switchboard.approval.needs_approval(ref, read_only=False, destructive=False)
    ]
    assert "tasks.createTask" in needing
