"""The calculator example server, driven in-process through the real MCP client."""

from __future__ import annotations

import math
from typing import Any

import pytest
from mcp import Client
from switchboard_example_calculator.server import create_server


async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server()) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return dict(result.structured_content)


async def error(name: str, arguments: dict[str, Any]) -> str:
    async with Client(create_server()) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error
    text = result.content[0]
    assert text.type == "text"
    return text.text


async def test_lists_four_labelled_read_only_tools() -> None:
    async with Client(create_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {"evaluate", "convert_units", "list_units", "statistics"}
    for tool in tools.values():
        assert tool.title
        assert tool.description
        assert tool.output_schema is not None
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.open_world_hint is False
    assert tools["evaluate"].input_schema["properties"]["expression"]["maxLength"] == 1000


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(2 + 3) * 4 ** 2 / 8", 10.0),
        ("7 // 2 + 7 % 2", 4),
        ("-2 ** 2", -4),
        ("2 ** -1", 0.5),
        ("1_000 * 1e3", 1e6),
        ("sqrt(16) + abs(-2) + max(1, 5, 3)", 11.0),
        ("round(pi, 4)", 3.1416),
        ("log(8, 2)", 3.0),
        ("factorial(20)", 2432902008176640000),
        ("comb(52, 5)", 2598960),
        ("gcd(12, 18) + floor(2.7) + ceil(2.1)", 11),
    ],
)
async def test_evaluate(expression: str, value: float) -> None:
    result = await call("evaluate", {"expression": expression})

    assert result["expression"] == expression
    assert result["value"] == pytest.approx(value)
    assert type(result["value"]) is type(value)


async def test_evaluate_keeps_big_integers_exact() -> None:
    result = await call("evaluate", {"expression": "2 ** 200 + 1"})

    assert result["value"] == 2**200 + 1
    assert result["text"] == str(2**200 + 1)


async def test_evaluate_trigonometry_in_radians() -> None:
    result = await call("evaluate", {"expression": "sin(pi / 6) + cos(0)"})

    assert math.isclose(result["value"], 1.5)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("__import__('os').system('true')", "is not allowed"),
        ("(1).__class__", "is not allowed"),
        ("[x for x in range(9)]", "is not allowed"),
        ("'a' * 3", "is not allowed"),
        ("open('/etc/passwd')", "unknown function `open`"),
        ("x + 1", "unknown name `x`"),
        ("True + 1", "not a real number"),
        ("2 ^ 3", "write powers as `**`"),
        ("1 +", "not valid arithmetic"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("9 ** 9 ** 9", "exceed 10000 bits"),
        ("(10 ** 1000) * (10 ** 3000)", "exceed 10000 bits"),
        ("2.0 ** 5000", "too large for a floating-point"),
        ("1e308 * 10", "too large for a floating-point"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("sqrt(-1)", "`sqrt`: math domain error"),
        ("factorial(100000)", "up to 1000"),
        ("sqrt(1, 2)", "wrong arguments for `sqrt`"),
        ("round(x=1)", "positional arguments only"),
        ("-" * 300 + "1", "nests deeper than 200"),
        ("1" * 1001, "at most 1000 characters"),
    ],
)
async def test_evaluate_refuses(expression: str, expected: str) -> None:
    assert expected in await error("evaluate", {"expression": expression})


@pytest.mark.parametrize(
    ("value", "source", "target", "result"),
    [
        (1, "mi", "km", 1.609344),
        (3, "feet", "in", 36.0),
        (100, "celsius", "F", 212.0),
        (-40, "°F", "°C", -40.0),
        (0, "K", "degC", -273.15),
        (1, "lb", "g", 453.59237),
        (2, "tonnes", "kg", 2000.0),
        (1, "GiB", "MB", 1073.741824),
        (1, "MB", "MiB", 0.95367431640625),
        (100, "Mbit", "MB", 12.5),
        (1, "PiB", "B", 2.0**50),
    ],
)
async def test_convert_units(value: float, source: str, target: str, result: float) -> None:
    conversion = await call(
        "convert_units", {"value": value, "from_unit": source, "to_unit": target}
    )

    assert conversion["result"] == pytest.approx(result, rel=1e-15)


async def test_convert_units_reports_canonical_symbols() -> None:
    conversion = await call(
        "convert_units", {"value": 5, "from_unit": "kilometers", "to_unit": "m"}
    )

    assert conversion == {
        "category": "length",
        "value": 5.0,
        "from_unit": "km",
        "to_unit": "m",
        "result": 5000.0,
        "text": "5 km = 5000 m",
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"value": 1, "from_unit": "kg", "to_unit": "m"}, "cannot convert mass (kg) to length (m)"),
        ({"value": 1, "from_unit": "parsec", "to_unit": "m"}, "unknown unit 'parsec'"),
        ({"value": -300, "from_unit": "C", "to_unit": "K"}, "-300 °C is below absolute zero"),
        ({"value": 1e308, "from_unit": "mi", "to_unit": "nm"}, "1e+308 mi is too large in nm"),
    ],
)
async def test_convert_units_refuses(arguments: dict[str, Any], expected: str) -> None:
    assert expected in await error("convert_units", arguments)


async def test_list_units_names_every_category() -> None:
    catalog = await call("list_units", {})

    categories = {c["category"]: c["units"] for c in catalog["categories"]}
    assert set(categories) == {"length", "mass", "temperature", "data"}
    assert {"symbol": "MiB", "name": "mebibyte", "aliases": []} in categories["data"]


async def test_statistics() -> None:
    summary = await call("statistics", {"numbers": [2, 4, 4, 4, 5, 5, 7, 9]})

    assert summary["count"] == 8
    assert summary["sum"] == 40
    assert summary["mean"] == 5
    assert summary["median"] == 4.5
    assert summary["modes"] == [4]
    assert (summary["minimum"], summary["maximum"], summary["range"]) == (2, 9, 7)
    assert (summary["q1"], summary["q3"]) == (4, 5.5)
    assert summary["population_stdev"] == 2
    assert summary["sample_variance"] == pytest.approx(32 / 7)


async def test_statistics_of_one_number_has_no_sample_spread() -> None:
    summary = await call("statistics", {"numbers": [3.5]})

    assert summary["sample_variance"] is None
    assert summary["sample_stdev"] is None
    assert summary["population_variance"] == 0
    assert summary["modes"] == [3.5]


async def test_statistics_without_repeats_has_no_mode() -> None:
    assert (await call("statistics", {"numbers": [1, 2, 3]}))["modes"] == []


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ([], "at least 1 item"),
        ([1e308, 1e308], "too large"),
        ([1, "two"], "numbers"),
    ],
)
async def test_statistics_refuses(numbers: list[Any], expected: str) -> None:
    assert expected in await error("statistics", {"numbers": numbers})
