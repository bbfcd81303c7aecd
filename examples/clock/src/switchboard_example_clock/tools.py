"""The clock tools, bound to a source of "now" so tests can pin the time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import Field

from switchboard_example_clock import timekeeping as tk
from switchboard_example_clock.models import (
    BusinessDays,
    Duration,
    TimeConversion,
    Weekday,
    ZonedTime,
    ZoneMatches,
)

Now = Callable[[], datetime]
"""Returns the current moment as an aware datetime."""

TimezoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="IANA timezone name such as `Europe/Paris`, `America/New_York` or `UTC`.",
    ),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ClockTools:
    """Time and calendar tools; every method is one MCP tool."""

    def __init__(self, now: Now = utc_now) -> None:
        self._now = now

    def current_time(self, timezone: TimezoneName = "UTC") -> ZonedTime:
        """Current date and time in a timezone, with its UTC offset and whether DST applies."""
        return tk.describe(self._now().astimezone(tk.resolve_zone(timezone)))

    def convert_time(
        self,
        time: Annotated[
            str,
            Field(
                max_length=64,
                description="Wall-clock time in the source zone: `HH:MM` (today there) or a "
                "date-time without offset such as `2025-06-01T09:30`.",
            ),
        ],
        source_timezone: TimezoneName,
        target_timezone: TimezoneName,
    ) -> TimeConversion:
        """Convert a wall-clock time from one timezone to another.

        A time that occurs twice when clocks go back resolves to its first occurrence; a time
        skipped when clocks go forward is an error.
        """
        source = tk.resolve_zone(source_timezone)
        target = tk.resolve_zone(target_timezone)
        moment = tk.parse_wall_time(time, source, self._now().astimezone(source).date())
        there = moment.astimezone(target)
        return TimeConversion(
            source=tk.describe(moment),
            target=tk.describe(there),
            hours_ahead=tk.hours_ahead(moment, there),
        )

    def time_difference(
        self,
        start: Annotated[
            str,
            Field(
                max_length=64, description="ISO 8601 date or date-time, e.g. `2025-06-01T09:30`."
            ),
        ],
        end: Annotated[str, Field(max_length=64, description="ISO 8601 date or date-time.")],
        timezone: Annotated[
            str,
            Field(max_length=64, description="IANA zone for `start`/`end` given without offset."),
        ] = "UTC",
    ) -> Duration:
        """Elapsed time from `start` to `end`, counting DST changes in between."""
        zone = tk.resolve_zone(timezone)
        return tk.difference(
            tk.parse_moment(start, zone, "start"), tk.parse_moment(end, zone, "end")
        )

    def business_days(
        self,
        start_date: Annotated[date, Field(description="First day of the range, YYYY-MM-DD.")],
        end_date: Annotated[date, Field(description="Last day of the range (included).")],
        holidays: Annotated[
            Sequence[date], Field(max_length=1000, description="Dates that are not working days.")
        ] = (),
        weekend_days: Annotated[
            Sequence[Weekday],
            Field(max_length=7, description="Days of the week that are weekend."),
        ] = ("Saturday", "Sunday"),
    ) -> BusinessDays:
        """List the business days from one date to another (both included), skipping weekends
        and holidays."""
        dates, skipped = tk.working_days(start_date, end_date, holidays, weekend_days)
        return BusinessDays(
            start_date=start_date.isoformat(),
            end_date=end_date.isoformat(),
            count=len(dates),
            dates=[d.isoformat() for d in dates],
            holidays_skipped=[d.isoformat() for d in skipped],
            weekend_days=list(weekend_days),
        )

    def find_timezones(
        self,
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                description="Part of an IANA name, e.g. `paris`, `new york` or `Australia/`.",
            ),
        ],
        limit: Annotated[int, Field(ge=1, le=100, description="Most zones to return.")] = 20,
    ) -> ZoneMatches:
        """Find IANA timezone names by city or region, with their current UTC offsets."""
        names = tk.search_zones(query)
        now = self._now()
        return ZoneMatches(
            query=query,
            total=len(names),
            zones=[tk.summarize(name, now) for name in names[:limit]],
        )
