"""What the clock tools return; field descriptions become each tool's output schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


class ZonedTime(BaseModel):
    """A moment as read on the wall clock of one timezone."""

    timezone: str = Field(description="IANA timezone name, e.g. `Europe/Paris`.")
    iso_datetime: str = Field(description="ISO 8601 date and time with its UTC offset.")
    date: str = Field(description="Local date, YYYY-MM-DD.")
    time: str = Field(description="Local time, HH:MM:SS.")
    weekday: Weekday = Field(description="Local day of the week.")
    utc_offset: str = Field(description="Offset from UTC, e.g. `+02:00`.")
    abbreviation: str = Field(description="Abbreviation in effect, e.g. `CEST`.")
    is_dst: bool = Field(description="Whether daylight saving time is in effect.")
    unix_timestamp: int = Field(description="Whole seconds since 1970-01-01T00:00:00Z.")


class TimeConversion(BaseModel):
    """One moment shown in two timezones."""

    source: ZonedTime
    target: ZonedTime
    hours_ahead: float = Field(
        description="How many hours the target's clock is ahead of the source's (negative: behind)."
    )


class Duration(BaseModel):
    """The elapsed time between two moments, measured in real (UTC) time."""

    start: str = Field(description="Start as ISO 8601 with UTC offset.")
    end: str = Field(description="End as ISO 8601 with UTC offset.")
    total_seconds: float = Field(
        description="End minus start in seconds; negative if end is first."
    )
    total_hours: float = Field(description="The same in hours.")
    days: int = Field(description="Whole days in the absolute difference.")
    hours: int = Field(description="Remaining whole hours (0-23).")
    minutes: int = Field(description="Remaining whole minutes (0-59).")
    seconds: int = Field(description="Remaining whole seconds (0-59).")
    is_negative: bool = Field(description="True when `end` is before `start`.")
    human: str = Field(description="The absolute difference in words, e.g. `2 days, 3 hours`.")


class BusinessDays(BaseModel):
    """Working days in an inclusive date range."""

    start_date: str
    end_date: str
    count: int = Field(description="Number of business days, both ends included.")
    dates: list[str] = Field(description="Every business day in the range, YYYY-MM-DD.")
    holidays_skipped: list[str] = Field(description="Given holidays that fell on a working day.")
    weekend_days: list[Weekday] = Field(description="Days of the week treated as weekend.")


class ZoneSummary(BaseModel):
    """A timezone and what its clocks show right now."""

    name: str = Field(description="IANA timezone name.")
    utc_offset: str = Field(description="Current offset from UTC.")
    abbreviation: str = Field(description="Current abbreviation.")


class ZoneMatches(BaseModel):
    """Timezones whose IANA name matches a search."""

    query: str
    total: int = Field(description="How many zones matched, before `limit` was applied.")
    zones: list[ZoneSummary]
