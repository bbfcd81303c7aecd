"""The clock example server, driven in-process through the real MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from switchboard_example_clock.server import create_server

NOW = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
"""A Saturday, the day before Europe's clocks go forward."""


@asynccontextmanager
async def connect() -> AsyncIterator[Client]:
    async with Client(create_server(now=lambda: NOW)) as client:
        yield client


async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with connect() as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return dict(result.structured_content)


async def error(name: str, arguments: dict[str, Any]) -> str:
    async with connect() as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error
    assert result.structured_content is None
    text = result.content[0]
    assert text.type == "text"
    return text.text


async def test_lists_five_labelled_read_only_tools() -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {
        "current_time",
        "convert_time",
        "time_difference",
        "business_days",
        "find_timezones",
    }
    for tool in tools.values():
        assert tool.title
        assert tool.description
        assert "\n    " not in tool.description, "docstrings are dedented"
        assert tool.output_schema is not None
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.open_world_hint is False
        for prop in tool.input_schema["properties"].values():
            assert prop.get("description"), f"{tool.name} has an undocumented parameter"


async def test_current_time_describes_the_zone() -> None:
    result = await call("current_time", {"timezone": "europe/paris"})

    assert result == {
        "timezone": "Europe/Paris",
        "iso_datetime": "2025-03-29T13:00:00+01:00",
        "date": "2025-03-29",
        "time": "13:00:00",
        "weekday": "Saturday",
        "utc_offset": "+01:00",
        "abbreviation": "CET",
        "is_dst": False,
        "unix_timestamp": int(NOW.timestamp()),
    }


async def test_current_time_defaults_to_utc() -> None:
    result = await call("current_time", {})

    assert result["timezone"] == "UTC"
    assert result["iso_datetime"] == "2025-03-29T12:00:00+00:00"


async def test_unknown_timezone_suggests_names() -> None:
    message = await error("current_time", {"timezone": "Europe/Pariss"})

    assert "unknown timezone 'Europe/Pariss'" in message
    assert "Europe/Paris" in message


async def test_convert_time_uses_today_in_the_source_zone() -> None:
    result = await call(
        "convert_time",
        {"time": "09:00", "source_timezone": "America/New_York", "target_timezone": "Asia/Tokyo"},
    )

    assert result["source"]["iso_datetime"] == "2025-03-29T09:00:00-04:00"
    assert result["target"]["iso_datetime"] == "2025-03-29T22:00:00+09:00"
    assert result["hours_ahead"] == 13.0


async def test_convert_time_accepts_a_date_and_crosses_midnight() -> None:
    result = await call(
        "convert_time",
        {
            "time": "2025-07-01T23:30",
            "source_timezone": "UTC",
            "target_timezone": "Australia/Sydney",
        },
    )

    assert result["target"]["iso_datetime"] == "2025-07-02T09:30:00+10:00"
    assert result["target"]["weekday"] == "Wednesday"


async def test_convert_time_rejects_a_time_skipped_by_dst() -> None:
    message = await error(
        "convert_time",
        {"time": "2025-03-30T02:30", "source_timezone": "Europe/Berlin", "target_timezone": "UTC"},
    )

    assert "does not exist in Europe/Berlin" in message


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("half past two", "give `HH:MM`"),
        ("2025-03-30T14:00+02:00", "must not carry a UTC offset"),
    ],
)
async def test_convert_time_rejects_unusable_times(time: str, expected: str) -> None:
    message = await error(
        "convert_time", {"time": time, "source_timezone": "UTC", "target_timezone": "UTC"}
    )

    assert expected in message


async def test_time_difference_counts_the_dst_hour() -> None:
    result = await call(
        "time_difference",
        {"start": "2025-03-29T12:00", "end": "2025-03-30T12:00", "timezone": "Europe/Berlin"},
    )

    assert result["total_hours"] == 23.0
    assert (result["days"], result["hours"]) == (0, 23)
    assert result["human"] == "23 hours"


async def test_time_difference_mixes_offsets_and_reports_negative_spans() -> None:
    result = await call(
        "time_difference", {"start": "2025-01-02T00:00:00+02:00", "end": "2025-01-01"}
    )

    assert result["total_seconds"] == -22 * 3600
    assert result["is_negative"] is True
    assert result["human"] == "22 hours"


async def test_time_difference_names_the_bad_argument() -> None:
    message = await error("time_difference", {"start": "yesterday", "end": "2025-01-01"})

    assert "`start` is 'yesterday'" in message


async def test_business_days_skip_weekends_and_holidays() -> None:
    result = await call(
        "business_days",
        {
            "start_date": "2025-12-22",
            "end_date": "2026-01-02",
            "holidays": ["2025-12-25", "2025-12-26", "2025-12-27", "2026-01-01"],
        },
    )

    assert result["count"] == 7
    assert result["dates"] == [
        "2025-12-22",
        "2025-12-23",
        "2025-12-24",
        "2025-12-29",
        "2025-12-30",
        "2025-12-31",
        "2026-01-02",
    ]
    assert result["holidays_skipped"] == ["2025-12-25", "2025-12-26", "2026-01-01"]


async def test_business_days_with_a_friday_saturday_weekend() -> None:
    result = await call(
        "business_days",
        {
            "start_date": "2025-06-01",
            "end_date": "2025-06-07",
            "weekend_days": ["Friday", "Saturday"],
        },
    )

    assert result["dates"][0] == "2025-06-01"  # a Sunday
    assert result["count"] == 5
    assert result["weekend_days"] == ["Friday", "Saturday"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "before `start_date`"),
        ({"start_date": "2000-01-01", "end_date": "2025-01-01"}, "split it"),
        ({"start_date": "2025-02-30", "end_date": "2025-03-01"}, "start_date"),
        (
            {"start_date": "2025-01-01", "end_date": "2025-01-02", "weekend_days": ["Caturday"]},
            "weekend_days",
        ),
    ],
)
async def test_business_days_refuses_bad_ranges(arguments: dict[str, Any], expected: str) -> None:
    assert expected in await error("business_days", arguments)


async def test_find_timezones_by_city() -> None:
    result = await call("find_timezones", {"query": "new york"})

    assert result == {
        "query": "new york",
        "total": 1,
        "zones": [{"name": "America/New_York", "utc_offset": "-04:00", "abbreviation": "EDT"}],
    }


async def test_find_timezones_applies_the_limit() -> None:
    result = await call("find_timezones", {"query": "Australia/", "limit": 3})

    assert result["total"] > 3
    assert [zone["name"] for zone in result["zones"]] == sorted(
        zone["name"] for zone in result["zones"]
    )
    assert len(result["zones"]) == 3


async def test_find_timezones_validates_the_limit() -> None:
    assert "limit" in await error("find_timezones", {"query": "europe", "limit": 0})
