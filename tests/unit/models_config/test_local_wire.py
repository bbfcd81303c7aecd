"""Requests to the embedded model are reshaped so llama.cpp's chatml-function-calling follows an
agent's tool loop: tool results as user messages naming the tool, string content on tool calls,
no `tool_choice: "required"`."""

from __future__ import annotations

import json
from typing import Any

from agents.models.local_wire import ReplayedStream, adapt_request
from agents.models.wire import Completion, Usage


def tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }


def call(id_: str, name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_tool_loop_reads_as_the_chat_format_renders_it() -> None:
    calls = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            call("c1", "calculator.evaluate", '{"expression": "6 * 7"}'),
            call("c2", "clock.current_time"),
        ],
    }
    body: dict[str, Any] = {
        "model": "default",
        "messages": [
            {"role": "system", "content": "Use the tools."},
            {"role": "user", "content": "What is 6 * 7 and the time?"},
            calls,
            {"role": "tool", "tool_call_id": "c1", "content": '{"value": 42}'},
            {
                "role": "tool",
                "tool_call_id": "c2",
                "content": [{"type": "text", "text": "09:30"}, {"type": "text", "text": "UTC"}],
            },
            {"role": "tool", "tool_call_id": "unknown", "content": "Fix the errors and try again."},
        ],
        "tools": [tool("calculator.evaluate"), tool("clock.current_time")],
        "tool_choice": "auto",
        "temperature": 0,
    }
    adapted = adapt_request(body)
    assert adapted["messages"] == [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "What is 6 * 7 and the time?"},
        {**calls, "content": ""},
        {"role": "user", "content": "Result of tool calculator.evaluate:\nvalue: 42"},
        {"role": "user", "content": "Result of tool clock.current_time:\n09:30\nUTC"},
        {"role": "user", "content": "Result of a tool call:\nFix the errors and try again."},
    ]
    assert {k: v for k, v in adapted.items() if k != "messages"} == {
        k: v for k, v in body.items() if k != "messages"
    }
    assert calls["content"] is None, "the caller's request is left as it was"


def test_json_results_read_as_quote_free_lines() -> None:
    """llama.cpp's template HTML-escapes quotes, which the model would copy into arguments."""
    result = {
        "target": {"timezone": "Asia/Tokyo", "is_dst": False, "offsets": [9, None]},
        "note": 'say "hi"',
    }
    body = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "assistant", "content": "", "tool_calls": [call("c1", "clock.convert")]},
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps(result)},
            {"role": "tool", "tool_call_id": "c1", "content": "[]"},
            {"role": "tool", "tool_call_id": "c1", "content": '"plain"'},
        ]
    }
    assert [m["content"] for m in adapt_request(body)["messages"][2:]] == [
        "Result of tool clock.convert:\n"
        "target.timezone: Asia/Tokyo\n"
        "target.is_dst: false\n"
        "target.offsets.0: 9\n"
        "target.offsets.1: null\n"
        'note: say "hi"',
        "Result of tool clock.convert:\n[]",
        'Result of tool clock.convert:\n"plain"',
    ]


def test_absent_content_on_a_tool_call_becomes_empty_text() -> None:
    message = {"role": "assistant", "tool_calls": [call("c1", "clock.current_time")]}
    body = {"messages": [{"role": "system", "content": "s"}, message]}
    assert adapt_request(body)["messages"][1] == {**message, "content": ""}


def test_required_tool_choice_names_the_only_tool_or_becomes_auto() -> None:
    system = {"role": "system", "content": "s"}
    one = adapt_request(
        {"messages": [system], "tools": [tool("final_result")], "tool_choice": "required"}
    )
    assert one["tool_choice"] == {"type": "function", "function": {"name": "final_result"}}
    two = adapt_request(
        {"messages": [system], "tools": [tool("a"), tool("b")], "tool_choice": "required"}
    )
    assert two["tool_choice"] == "auto"
    named = {"type": "function", "function": {"name": "b"}}
    kept = adapt_request({"messages": [system], "tools": [tool("b")], "tool_choice": named})
    assert kept["tool_choice"] == named


def test_tools_get_a_system_message_to_be_described_in() -> None:
    user = {"role": "user", "content": "hi"}
    with_tools = adapt_request({"messages": [user], "tools": [tool("a")]})
    assert with_tools["messages"] == [{"role": "system", "content": ""}, user]
    assert adapt_request({"messages": [user]})["messages"] == [user]


def test_plain_chats_pass_unchanged() -> None:
    body = {
        "model": "default",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Bye"},
        ],
        "max_tokens": 5,
    }
    assert adapt_request(body) == body
    assert adapt_request({"model": "default"}) == {"model": "default"}


async def test_a_whole_answer_replays_as_one_chunk_then_its_usage() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
    completion = Completion(
        {
            "id": "x",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "", "tool_calls": [call]},
                    "finish_reason": "tool_calls",
                }
            ],
        },
        Usage(7, 3),
    )
    stream = ReplayedStream(completion)
    chunks = [chunk async for chunk in stream.chunks()]
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"]
    (choice,) = chunks[0]["choices"]
    assert choice["delta"]["tool_calls"] == [{**call, "index": 0}]
    assert choice["finish_reason"] == "tool_calls"
    assert stream.usage == Usage(7, 3)
