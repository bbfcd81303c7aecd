"""Agent documents and launch-form answers: every bad input is refused at its JSON pointer."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from agents.spec import (
    Approval,
    InvalidAnswersError,
    Question,
    agent_from_dict,
    parse_agent,
    validate_answers,
)
from registry.errors import InvalidDocumentError


def document(**switchboard: Any) -> dict[str, Any]:
    block = {
        "title": "Greeter",
        "summary": "Says hello.",
        "version": "1.0.0",
        "prompt": "Greet {who}.",
        "questions": [{"key": "who", "label": "Who"}],
        **switchboard,
    }
    return {"name": "greeter", "instructions": "Be brief.", "switchboard": block}


def problems(data: dict[str, Any] | str) -> dict[str, str]:
    with pytest.raises(InvalidDocumentError) as caught:
        if isinstance(data, str):
            parse_agent(data, "test.yaml")
        else:
            parse_agent(yaml.safe_dump(data), "test.yaml")
    return {p.pointer: p.message for p in caught.value.problems}


def test_a_good_document_reads_back_with_its_digest() -> None:
    agent = parse_agent(yaml.safe_dump(document()))
    assert agent.name == "greeter"
    assert agent.switchboard.model == "default"
    assert agent.prompt_for({"who": "Ada"}) == "Greet Ada."
    assert agent.digest == agent_from_dict(document()).digest
    assert agent.digest != agent_from_dict(document(version="1.0.1")).digest


def test_json_is_read_too() -> None:
    assert parse_agent(json.dumps(document())).name == "greeter"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n", "an agent document is a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
        ("", "an agent document is a YAML mapping"),
    ],
)
def test_not_a_mapping(text: str, expected: str) -> None:
    assert expected in problems(text)[""]


def test_refused_spec_fields_and_unknown_keys() -> None:
    data = {**document(), "model": "openai:gpt-4o", "deps_schema": {}, "colour": "blue"}
    found = problems(data)
    assert "switchboard.model" in found["/model"]
    assert "switchboard.questions" in found["/deps_schema"]
    assert "unknown field" in found["/colour"]


def test_unknown_keys_in_the_switchboard_block_and_questions() -> None:
    found = problems(document(colour="blue", questions=[{"key": "who", "label": "W", "x": 1}]))
    assert "/switchboard/colour" in found
    assert "/switchboard/questions/0/x" in found


def test_required_fields() -> None:
    assert (
        "required"
        in problems({"instructions": "x", "switchboard": document()["switchboard"]})["/name"]
    )
    assert "missing" in problems({"name": "greeter"})["/switchboard"]
    for field in ("title", "summary", "version", "prompt"):
        data = document()
        del data["switchboard"][field]
        assert f"/switchboard/{field}" in problems(data), field


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("title", 12, "/switchboard/title"),
        ("summary", "two\nlines", "/switchboard/summary"),
        ("version", "1.0", "/switchboard/version"),
        ("tools", "clock", "/switchboard/tools"),
        ("tools", ["Not A Slug"], "/switchboard/tools/0"),
        ("limits", {"requests": 0}, "/switchboard/limits/requests"),
        ("limits", {"wall_time_seconds": "soon"}, "/switchboard/limits/wall_time_seconds"),
        ("approval", {"mode": "sometimes"}, "/switchboard/approval/mode"),
        ("approval", {"always": ["Bad Name"]}, "/switchboard/approval/always/0"),
        ("visibility", "everyone", "/switchboard/visibility"),
    ],
)
def test_wrong_types_name_the_field(field: str, value: Any, pointer: str) -> None:
    assert pointer in problems(document(**{field: value}))


def test_bad_name() -> None:
    data = {**document(), "name": "Greeter Bot"}
    assert "lower-case" in problems(data)["/name"]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"key": "who", "label": "W", "type": "colour"}, "Input should be"),
        ({"key": "who", "label": "W", "type": "select"}, "non-empty `options`"),
        ({"key": "who", "label": "W", "type": "select", "options": []}, "non-empty `options`"),
        ({"key": "who", "label": "W", "options": ["a"]}, "only for `select`"),
        ({"key": "who", "label": "W", "type": "number", "default": "many"}, "`default`"),
        (
            {"key": "who", "label": "W", "type": "select", "options": ["a"], "default": "b"},
            "one of",
        ),
        ({"key": "who", "label": "W", "type": "date", "default": "tomorrow"}, "YYYY-MM-DD"),
        ({"key": "Who", "label": "W"}, "should match pattern"),
        ({"key": "who", "label": ""}, "at least 1"),
    ],
)
def test_bad_questions(question: dict[str, Any], message: str) -> None:
    found = problems(document(questions=[question]))
    assert any(p.startswith("/switchboard/questions/0") for p in found), found
    assert any(message in m for m in found.values()), found


def test_duplicate_question_keys() -> None:
    twice = [{"key": "who", "label": "A"}, {"key": "who", "label": "B"}]
    assert "repeated: who" in problems(document(questions=twice))["/switchboard"]


def test_duplicate_yaml_keys_are_refused_not_silently_dropped() -> None:
    text = yaml.safe_dump(document()) + "name: other\n"
    assert "`name`" not in problems(text)[""]
    assert "appears twice" in problems(text)[""]


@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 5_000 + "1" + "}" * 5_000])
def test_deep_nesting_is_refused_before_it_recurses(text: str) -> None:
    assert "nested deeper than 64 levels" in problems(text)[""]


def test_yaml_aliases_are_refused() -> None:
    text = "name: a\nswitchboard: &block {title: t}\nmetadata: *block\n"
    assert "aliases" in problems(text)[""]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("Greet {whom}.", "uses whom, which no question asks for"),
        ("Greet {who.", "not a valid template"),
        ("Greet {who} with {}", "not `{}`"),
        ("Greet {who.__class__}", "placeholders are a question's key"),
        ("Greet {who[0]}", "placeholders are a question's key"),
    ],
)
def test_bad_prompt_placeholders(prompt: str, message: str) -> None:
    found = problems(document(prompt=prompt))
    assert any(message in m for m in found.values()), found


def test_literal_braces_are_written_doubled() -> None:
    agent = agent_from_dict(document(prompt="Greet {who} in {{JSON}}."))
    assert agent.prompt_for({"who": "Ada"}) == "Greet Ada in {JSON}."


def test_every_problem_is_reported_at_once() -> None:
    data = {**document(title="", version="x"), "model": "gpt", "name": "NO"}
    assert {"/model", "/name", "/switchboard/title", "/switchboard/version"} <= set(problems(data))


def test_dates_are_stored_as_the_text_that_was_validated() -> None:
    agent = parse_agent(yaml.safe_dump(document()) + "metadata: {since: 2024-01-01}\n")
    assert agent.source["metadata"] == {"since": "2024-01-01"}


FORM = [
    Question(key="name", label="Name"),
    Question(key="notes", label="Notes", type="text", required=False),
    Question(key="count", label="How many", type="number", default=3),
    Question(key="urgent", label="Urgent", type="boolean", required=False),
    Question(key="size", label="Size", type="select", options=["S", "M"], required=False),
    Question(key="due", label="Due", type="date", required=False),
]


def answer_problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidAnswersError) as caught:
        validate_answers(FORM, raw)
    return {p.pointer: p.message for p in caught.value.problems}


def test_answers_are_typed_and_defaults_filled() -> None:
    answers = validate_answers(FORM, {"name": "Ada", "count": "4", "urgent": "on", "due": ""})
    assert answers == {
        "name": "Ada",
        "notes": None,
        "count": 4,
        "urgent": True,
        "size": None,
        "due": None,
    }
    assert validate_answers(FORM, {"name": "Ada"})["count"] == 3


@pytest.mark.parametrize(
    ("raw", "pointer", "message"),
    [
        ({}, "/name", "required"),
        ({"name": ""}, "/name", "required"),
        ({"name": 5}, "/name", "expected text"),
        ({"name": "two\nlines"}, "/name", "one line"),
        ({"name": "x" * 501}, "/name", "at most 500"),
        ({"name": "A", "count": "many"}, "/count", "expected a number"),
        ({"name": "A", "count": True}, "/count", "expected a number"),
        ({"name": "A", "count": "1e999"}, "/count", "expected a finite number"),
        ({"name": "A", "count": float("-inf")}, "/count", "expected a finite number"),
        ({"name": "A", "count": float("nan")}, "/count", "expected a finite number"),
        ({"name": "A", "urgent": "maybe"}, "/urgent", "true or false"),
        ({"name": "A", "size": "XL"}, "/size", "one of: S, M"),
        ({"name": "A", "due": "31/12/2026"}, "/due", "YYYY-MM-DD"),
        ({"name": "A", "due": "2026-02-30"}, "/due", "YYYY-MM-DD"),
        ({"name": "A", "colour": "red"}, "/colour", "no question has this key"),
    ],
)
def test_bad_answers(raw: dict[str, Any], pointer: str, message: str) -> None:
    assert message in answer_problems(raw)[pointer]


def test_every_bad_answer_is_reported_at_once() -> None:
    assert set(answer_problems({"count": "x", "size": "XL", "extra": 1})) == {
        "/name",
        "/count",
        "/size",
        "/extra",
    }


@pytest.mark.parametrize(
    ("approval", "tool", "read_only", "destructive", "needed"),
    [
        (Approval(), "tasks.listTasks", True, False, False),
        (Approval(), "tasks.createTask", False, False, True),
        (Approval(), "tasks.deleteTask", False, True, True),
        (Approval(never=["tasks.createTask"]), "tasks.createTask", False, False, False),
        (Approval(never=["tasks"]), "tasks.deleteTask", False, True, False),
        (Approval(always=["clock"]), "clock.current_time", True, False, True),
        (Approval(mode="always"), "clock.current_time", True, False, True),
        (Approval(mode="never"), "tasks.deleteTask", False, True, False),
    ],
)
def test_which_tools_need_approval(
    approval: Approval, tool: str, read_only: bool, destructive: bool, needed: bool
) -> None:
    assert approval.needs_approval(tool, read_only=read_only, destructive=destructive) is needed
