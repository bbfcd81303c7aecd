"""Timezone lookup and calendar arithmetic behind the clock tools.

Errors are `ToolError`s with a message that names the fix, because the model reads them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from mcp.server.mcpserver.exceptions import ToolError

from switchboard_example_clock.models import WEEKDAYS, Duration, Weekday, ZonedTime, ZoneSummary

MAX_RANGE_DAYS = 3660
"""Longest range `business_days` lists (about ten years), so one answer stays readable."""


@cache
def _zone_names() -> dict[str, str]:
    """Lower-cased name to IANA name, so `europe/paris` still resolves."""
    return {name.lower(): name for name in available_timezones() | {"UTC"}}


def resolve_zone(name: str) -> ZoneInfo:
    """The zone for an IANA name (any case); unknown names get up to three suggestions."""
    names = _zone_names()
    canonical = names.get(name.strip().lower())
    if canonical is None:
        close = difflib.get_close_matches(name.strip().lower(), list(names), n=3)
        hint = f"; did you mean {', '.join(names[c] for c in close)}?" if close else ""
        raise ToolError(f"unknown timezone {name!r}: use an IANA name such as `Europe/Paris`{hint}")
    return ZoneInfo(canonical)


def format_offset(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def describe(moment: datetime) -> ZonedTime:
    """Everything a reader wants to know about an aware datetime, in its own zone."""
    return ZonedTime(
        timezone=str(moment.tzinfo),
        iso_datetime=moment.isoformat(timespec="seconds"),
        date=moment.date().isoformat(),
        time=moment.strftime("%H:%M:%S"),
        weekday=WEEKDAYS[moment.weekday()],
        utc_offset=format_offset(moment.utcoffset() or timedelta(0)),
        abbreviation=moment.tzname() or "",
        is_dst=bool(moment.dst()),
        unix_timestamp=int(moment.timestamp()),
    )


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach `zone` to a wall time; a time skipped by a DST jump is an error.

    A time that happens twice (when clocks go back) takes its first occurrence.
    """
    moment = naive.replace(tzinfo=zone, fold=0)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ToolError(
            f"{naive.isoformat()} does not exist in {zone.key}: clocks skip it at a DST change"
        )
    return moment


def parse_moment(text: str, zone: ZoneInfo, field: str) -> datetime:
    """An ISO 8601 date or date-time; without a UTC offset it is read in `zone`."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(
            f"`{field}` is {text!r}, not an ISO 8601 date or date-time such as `2025-06-01T09:30`"
        ) from None
    return parsed if parsed.tzinfo is not None else localize(parsed, zone)


def parse_wall_time(text: str, zone: ZoneInfo, today: date) -> datetime:
    """`HH:MM[:SS]` on `today`, or a full date-time without offset, read in `zone`."""
    text = text.strip()
    try:
        naive = datetime.combine(today, time.fromisoformat(text))
    except ValueError:
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            raise ToolError(
                f"`time` is {text!r}; give `HH:MM` or a date-time such as `2025-06-01T09:30`"
            ) from None
    if naive.tzinfo is not None:
        raise ToolError("`time` must not carry a UTC offset; name its zone in `source_timezone`")
    return localize(naive, zone)


def hours_ahead(source: datetime, target: datetime) -> float:
    """How far `target`'s clock runs ahead of `source`'s at the same moment."""
    gap = (target.utcoffset() or timedelta(0)) - (source.utcoffset() or timedelta(0))
    return gap.total_seconds() / 3600


def _words(days: int, hours: int, minutes: int, seconds: int) -> str:
    units = (("day", days), ("hour", hours), ("minute", minutes), ("second", seconds))
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for unit, n in units if n]
    return ", ".join(parts) or "0 seconds"


def difference(start: datetime, end: datetime) -> Duration:
    """Elapsed real time; both ends go through UTC, so a DST change is counted."""
    total = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
    days, rest = divmod(int(abs(total)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return Duration(
        start=start.isoformat(timespec="seconds"),
        end=end.isoformat(timespec="seconds"),
        total_seconds=total,
        total_hours=round(total / 3600, 6),
        days=days,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        is_negative=total < 0,
        human=_words(days, hours, minutes, seconds),
    )


def working_days(
    start: date, end: date, holidays: Iterable[date], weekend: Iterable[Weekday]
) -> tuple[list[date], list[date]]:
    """Working days from `start` to `end` inclusive, and the holidays that removed one."""
    if end < start:
        raise ToolError(f"`end_date` {end} is before `start_date` {start}; swap them")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ToolError(f"the range is longer than {MAX_RANGE_DAYS} days; split it")
    off = {WEEKDAYS.index(day) for day in weekend}
    closed = set(holidays)
    days = (start + timedelta(n) for n in range((end - start).days + 1))
    weekdays = [day for day in days if day.weekday() not in off]
    return [d for d in weekdays if d not in closed], [d for d in weekdays if d in closed]


def search_zones(query: str) -> list[str]:
    """Zone names containing `query`, ignoring case; spaces match underscores."""
    needle = query.strip().lower().replace(" ", "_")
    return sorted(name for key, name in _zone_names().items() if needle in key)


def summarize(name: str, now: datetime) -> ZoneSummary:
    local = now.astimezone(ZoneInfo(name))
    return ZoneSummary(
        name=name,
        utc_offset=format_offset(local.utcoffset() or timedelta(0)),
        abbreviation=local.tzname() or "",
    )
