"""Triggers: what ``interval=`` / ``timestamp=`` mean, as objects that know their next due time.

A trigger has one method, ``next_after(after) -> datetime | None``: the first due time strictly
after the aware datetime *after* (an aware UTC datetime), or ``None`` when it will never fire
again. :func:`make_trigger` turns the decorator arguments into a trigger, once, at setup:

- ``interval=30`` / ``30.5``: every 30 seconds, counted from the start of the scheduler;
- ``interval="5 minutes"``, ``"90 seconds"``, ``"2h"``, ``"1h 30m"``, ``"every 10 minutes"``:
  a duration, counted from the start as well;
- ``interval="hourly"``, ``"every day"``, ``"mondays"``, ``"weekdays"``, ... (:data:`ALIASES`):
  wall-clock schedules, e.g. "hourly" runs at minute 0 of every hour;
- ``interval="*/5 * * * *"`` or ``"@daily"``: a cron expression (:mod:`.cron`);
- ``timestamp="08:30"`` / ``"08:30:15"``: every day at that local time;
- ``timestamp="2030-01-31 08:30"``: once, at that local time.

Cron expressions and timestamps are matched in the trigger's time zone (:mod:`.timezones`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

from tomodachi.transport.schedule.cron import (
    CronError,
    CronSchedule,
    next_fire,
    parse_cron,
    wall_clock_schedule,
)
from tomodachi.transport.schedule.timezones import resolve_timezone

__all__ = [
    "ALIASES",
    "CronTrigger",
    "IntervalTrigger",
    "Trigger",
    "TriggerError",
    "make_trigger",
    "parse_interval",
    "parse_timestamp",
]


class TriggerError(ValueError):
    """An invalid ``interval``, ``timestamp`` or ``timezone``; the message names the value."""


class Trigger(Protocol):
    """Anything with ``next_after``; the scheduler needs nothing else."""

    def next_after(self, after: datetime) -> datetime | None:
        """The first due time strictly after *after* (aware), or ``None`` for never again."""
        ...


@dataclass(frozen=True)
class IntervalTrigger:
    """Every *interval*, counted from *anchor* (the scheduler sets it to its start time).

    Due times are ``anchor + k * interval``: computed, not accumulated, so they never drift
    however late the previous run was.
    """

    interval: timedelta
    anchor: datetime | None = None

    def anchored(self, anchor: datetime) -> IntervalTrigger:
        return replace(self, anchor=anchor)

    def next_after(self, after: datetime) -> datetime | None:
        if self.anchor is None:
            return after + self.interval
        steps = (after - self.anchor) // self.interval + 1
        return self.anchor + steps * self.interval

    def __str__(self) -> str:
        return f"every {self.interval.total_seconds():g}s"


@dataclass(frozen=True)
class CronTrigger:
    """A cron schedule matched against the wall clock of *timezone* (see :func:`.cron.next_fire`)."""

    schedule: CronSchedule
    timezone: tzinfo

    def next_after(self, after: datetime) -> datetime | None:
        return next_fire(self.schedule, after, self.timezone)

    def __str__(self) -> str:
        return f"cron {self.schedule.expression!r} ({self.timezone})"


# -- aliases -----------------------------------------------------------------------------------
def _aliases() -> dict[str, str | int]:
    table: dict[str, str | int] = {}

    def add(value: str | int, *names: str) -> None:
        for name in names:
            table[name] = value

    add(1, "every second", "1s", "1 s", "1second", "1 second", "second", "secondly", "once per second")
    add(
        "* * * * *",
        "every minute",
        "1m",
        "1 m",
        "1minute",
        "1 minute",
        "minute",
        "minutely",
        "once per minute",
    )
    add("0 * * * *", "every hour", "1h", "1 h", "1hour", "1 hour", "hour", "hourly", "once per hour")
    add("0 0 * * *", "every day", "1d", "1 d", "1day", "1 day", "day", "daily", "once per day", "nightly")
    add("0 0 1 * *", "every month", "1month", "1 month", "month", "monthly", "once per month")
    add(
        "0 0 1 1 *",
        "every year",
        "1y",
        "1 y",
        "1year",
        "1 year",
        "year",
        "yearly",
        "once per year",
        "annually",
    )
    weekdays = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    for number, day in enumerate(weekdays):
        short = day[:3]
        add(f"0 0 * * {number}", day, f"{day}s", short, f"every {day}", f"once per {day}")
    add("0 0 * * 1", "weekly", "once per week", "week", "every week")
    add("0 0 * * 1-5", "weekday", "weekdays", "every weekday")
    add("0 0 * * 0,6", "weekend", "weekends", "every weekend")
    return table


#: Interval strings with a fixed meaning (lower-case, single spaces): seconds, or a cron expression.
ALIASES: dict[str, str | int] = _aliases()

_UNITS: dict[str, int] = {}
for _seconds, _names in (
    (1, ("s", "sec", "secs", "second", "seconds")),
    (60, ("m", "min", "mins", "minute", "minutes")),
    (3600, ("h", "hr", "hrs", "hour", "hours")),
    (86400, ("d", "day", "days")),
    (604800, ("w", "wk", "wks", "week", "weeks")),
):
    for _name in _names:
        _UNITS[_name] = _seconds
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def _duration(text: str) -> float | None:
    """Seconds in a duration such as ``"90 seconds"``, ``"1h 30m"``; ``None`` if it is not one."""
    if text.startswith("every "):
        text = text[len("every ") :]
    if _NUMBER.match(text):
        return float(text)
    position = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            return None
        unit = _UNITS.get(match[2])
        if unit is None:
            return None
        total += float(match[1]) * unit
        position = match.end()
    if position != len(text) or position == 0:
        return None
    return total


def _interval_seconds(seconds: float, raw: object) -> IntervalTrigger:
    if not math.isfinite(seconds) or seconds <= 0:
        raise TriggerError(f"invalid interval {raw!r}: expected a positive number of seconds")
    if seconds < 0.001:
        raise TriggerError(f"invalid interval {raw!r}: the shortest interval is 1 millisecond")
    try:
        return IntervalTrigger(timedelta(seconds=seconds))
    except OverflowError:
        raise TriggerError(f"invalid interval {raw!r}: too long") from None


def parse_interval(value: object, timezone: tzinfo) -> IntervalTrigger | CronTrigger:
    """The trigger for an ``interval=`` value; raises :class:`TriggerError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, timedelta)):
        raise TriggerError(
            f"invalid interval {value!r}: expected seconds (int or float), a duration such as "
            "'5 minutes', an alias such as 'hourly', or a cron expression"
        )
    if isinstance(value, timedelta):
        return _interval_seconds(value.total_seconds(), value)
    if isinstance(value, (int, float)):
        return _interval_seconds(float(value), value)
    text = " ".join(value.lower().split())
    alias = ALIASES.get(text)
    if isinstance(alias, int):
        return _interval_seconds(alias, value)
    if isinstance(alias, str):
        return CronTrigger(parse_cron(alias), timezone)
    seconds = _duration(text)
    if seconds is not None:
        return _interval_seconds(seconds, value)
    if _looks_like_cron(text):
        try:
            return CronTrigger(parse_cron(value), timezone)
        except CronError as exc:
            raise TriggerError(str(exc)) from None
    if re.match(r"^(every )?\d+(\.\d+)? ?(months?|y|yrs?|years?)$", text):
        raise TriggerError(
            f"invalid interval {value!r}: months and years have no fixed length; use a cron expression "
            "such as '0 0 1 */2 *' or the aliases 'monthly' / 'yearly'"
        )
    raise TriggerError(
        f"invalid interval {value!r}: expected seconds, a duration such as '5 minutes', an alias such "
        "as 'hourly' or 'weekdays', or a cron expression such as '*/5 * * * *'"
    )


def _looks_like_cron(text: str) -> bool:
    return text.startswith("@") or any(c in text for c in "*?/,#") or len(text.split(" ")) >= 3


_TIMESTAMP = re.compile(
    r"^(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[ t])?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?$"
)


def parse_timestamp(value: object, timezone: tzinfo) -> CronTrigger:
    """The trigger for ``timestamp=``: daily ``"HH:MM[:SS]"`` or once ``"YYYY-MM-DD HH:MM[:SS]"``."""
    expected = "expected 'HH:MM[:SS]' (daily) or 'YYYY-MM-DD HH:MM[:SS]' (once)"
    if not isinstance(value, str):
        raise TriggerError(f"invalid timestamp {value!r}: {expected}")
    match = _TIMESTAMP.match(" ".join(value.lower().split()))
    if match is None:
        raise TriggerError(f"invalid timestamp {value!r}: {expected}")
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    on: date | None = None
    try:
        if match["year"] is not None:
            on = date(int(match["year"]), int(match["month"]), int(match["day"]))
        datetime(2000, 1, 1, hour, minute, second)
    except ValueError as exc:
        raise TriggerError(f"invalid timestamp {value!r}: {exc}") from None
    schedule = wall_clock_schedule(hour, minute, second, on, expression=value)
    return CronTrigger(schedule, timezone)


def make_trigger(
    interval: object = None, timestamp: object = None, timezone: object = None
) -> IntervalTrigger | CronTrigger:
    """The trigger for the arguments of ``@schedule``; raises :class:`TriggerError`."""
    try:
        zone = resolve_timezone(timezone)  # type: ignore[arg-type]
    except ValueError as exc:
        raise TriggerError(str(exc)) from None
    if interval is None and timestamp is None:
        raise TriggerError(
            "no interval or timestamp given: use @schedule(interval=...) or @schedule(timestamp=...)"
        )
    if interval is not None and timestamp is not None:
        raise TriggerError(f"both interval={interval!r} and timestamp={timestamp!r} given: use one of them")
    if timestamp is not None:
        return parse_timestamp(timestamp, zone)
    return parse_interval(interval, zone)
