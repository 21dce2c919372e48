"""Cron expressions: the dialect tomodachi accepts, and when an expression fires next.

Dialect (case-insensitive)::

    minute hour day-of-month month day-of-week [year]

=============  =========================  ===========================================
field          values                     special forms
=============  =========================  ===========================================
minute         0-59
hour           0-23
day-of-month   1-31                       ``L`` last day, ``LW`` last weekday (Mon-Fri),
                                          ``15W`` the weekday nearest the 15th
month          1-12, ``jan``-``dec``
day-of-week    0-7 (0 and 7 are Sunday),  ``Lfri`` / ``5L`` last Friday of the month,
               ``mon``-``sun``            ``Lwed-fri`` the last Wednesday to Friday,
                                          ``fri#2`` the second Friday
year           1970-2199 (optional)
=============  =========================  ===========================================

Every field takes ``*`` (or ``?``), lists ``a,b``, ranges ``a-b`` and steps ``*/n``, ``a/n``
(from *a* to the end of the field) and ``a-b/n``. Macros: ``@yearly`` (``@annually``),
``@monthly``, ``@weekly``, ``@daily`` (``@midnight``), ``@hourly`` and ``@minutely``.

As in Vixie cron, when both day fields are restricted (neither starts with ``*`` or ``?``) a
day matches if *either* matches (``0 0 1 * mon``: the 1st and every Monday); otherwise both
must match (``0 0 */2 * mon``: odd days that are Mondays).

Time zones and DST (:func:`next_fire`): expressions are matched against the local wall clock.

- An expression with a restricted hour field (``30 2 * * *``, timestamps, the daily, weekly,
  monthly and yearly aliases) names *appointments* on the wall clock. An appointment that
  does not exist because the clocks jump forward runs once at the first instant after the
  gap (02:30 -> 03:00); one that exists twice because the clocks go back runs once, at the
  first occurrence.
- An expression whose hour field is ``*`` (every minute, hourly, ``*/15 * * * *``) follows
  elapsed time: it runs at every real instant whose local time matches, so skipped local
  times do not run and repeated ones run again (an hourly job still runs every 60 minutes).
"""

from __future__ import annotations

import bisect
import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

__all__ = ["CronError", "CronSchedule", "next_fire", "parse_cron", "wall_clock_schedule"]

YEAR_MIN = 1970
YEAR_MAX = 2199

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
    "@minutely": "* * * * *",
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_FULL = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_FULL = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTH_NAMES: dict[str, int] = {
    **{name: i + 1 for i, name in enumerate(_MONTHS)},
    **{name: i + 1 for i, name in enumerate(_MONTH_FULL)},
}
WEEKDAY_NAMES: dict[str, int] = {
    **{name: i for i, name in enumerate(_WEEKDAYS)},
    **{name: i for i, name in enumerate(_WEEKDAY_FULL)},
}

_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week", "year")
_TOKEN = re.compile(r"^[a-z0-9]+$")
_ALL_HOURS = tuple(range(24))
# DST shifts are at most two hours (Antarctica/Troll); look a little further back than that.
_MAX_SHIFT = timedelta(hours=3)
_ONE_SECOND = timedelta(seconds=1)


class CronError(ValueError):
    """An invalid cron expression; the message names the field and the bad value."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression: the set of wall-clock times it matches.

    Build one with :func:`parse_cron` (or :func:`wall_clock_schedule` for a time of day). The
    value sets are sorted tuples; weekdays use cron numbering (0 = Sunday .. 6 = Saturday).
    """

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]
    years: tuple[int, ...]
    last_day: bool = False
    """``L`` in the day field: the last day of the month."""
    last_weekday_of_month: bool = False
    """``LW`` in the day field: the last Monday-to-Friday of the month."""
    nearest_weekdays: frozenset[int] = frozenset()
    """``nW`` in the day field: the Monday-to-Friday nearest day *n*, within the month."""
    last_weekdays: frozenset[int] = frozenset()
    """``L<weekday>`` / ``<weekday>L``: the last such weekday of the month."""
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()
    """``<weekday>#<n>``: ``(weekday, n)``, the n-th such weekday of the month."""
    day_star: bool = True
    """The day-of-month field starts with ``*`` or ``?`` (see the module docs on OR/AND)."""
    weekday_star: bool = True
    _month_days: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False, hash=False
    )

    @property
    def every_hour(self) -> bool:
        """Whether the hour field matches every hour (the expression follows elapsed time)."""
        return self.hours == _ALL_HOURS

    # -- matching on the wall clock ------------------------------------------------------
    def matches(self, wall: datetime) -> bool:
        """Whether the (naive, local) wall-clock time *wall* matches, to the second."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.day in self.days_of_month(wall.year, wall.month)
            and wall.year in self.years
        )

    def days_of_month(self, year: int, month: int) -> tuple[int, ...]:
        """The matching days of *month* in *year* (empty when the month does not match)."""
        key = (year, month)
        found = self._month_days.get(key)
        if found is None:
            found = self._compute_days(year, month) if month in self.months else ()
            if len(self._month_days) > 512:
                self._month_days.clear()
            self._month_days[key] = found
        return found

    def _compute_days(self, year: int, month: int) -> tuple[int, ...]:
        first_weekday, ndays = calendar.monthrange(year, month)  # Monday = 0
        first = (first_weekday + 1) % 7  # cron numbering, Sunday = 0
        nearest = {_nearest_weekday(n, first, ndays) for n in self.nearest_weekdays if n <= ndays}
        last_workday = ndays
        while (first + last_workday - 1) % 7 in (0, 6):
            last_workday -= 1
        result = []
        for day in range(1, ndays + 1):
            weekday = (first + day - 1) % 7
            dom = (
                day in self.days
                or (self.last_day and day == ndays)
                or (self.last_weekday_of_month and day == last_workday)
                or day in nearest
            )
            dow = (
                weekday in self.weekdays
                or (weekday in self.last_weekdays and day + 7 > ndays)
                or (weekday, (day - 1) // 7 + 1) in self.nth_weekdays
            )
            if (dom and dow) if (self.day_star or self.weekday_star) else (dom or dow):
                result.append(day)
        return tuple(result)

    def next_wall(self, start: datetime) -> datetime | None:
        """The first naive wall-clock time at or after *start* (whole seconds) that matches."""
        y, mo, d, h, mi, s = start.year, start.month, start.day, start.hour, start.minute, start.second
        if start.microsecond:
            s += 1  # at or after: the next whole second (may be 60; the bisect handles it)
        years = self.years
        for year in years[bisect.bisect_left(years, y) :]:
            same_year = year == y
            months = self.months
            for month in months[bisect.bisect_left(months, mo) if same_year else 0 :]:
                same_month = same_year and month == mo
                days = self.days_of_month(year, month)
                for day in days[bisect.bisect_left(days, d) if same_month else 0 :]:
                    same_day = same_month and day == d
                    hours = self.hours
                    for hour in hours[bisect.bisect_left(hours, h) if same_day else 0 :]:
                        same_hour = same_day and hour == h
                        minutes = self.minutes
                        for minute in minutes[bisect.bisect_left(minutes, mi) if same_hour else 0 :]:
                            same_minute = same_hour and minute == mi
                            seconds = self.seconds
                            index = bisect.bisect_left(seconds, s) if same_minute else 0
                            if index < len(seconds):
                                return datetime(year, month, day, hour, minute, seconds[index])
        return None


def _nearest_weekday(day: int, first: int, ndays: int) -> int:
    """The Monday-to-Friday nearest *day* without leaving the month (Quartz's ``W``)."""
    weekday = (first + day - 1) % 7
    if weekday == 6:  # Saturday: Friday before, or Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: Monday after, or Friday before on the last day
        return day + 1 if day < ndays else day - 2
    return day


# -- parsing -------------------------------------------------------------------------------
def parse_cron(expression: str) -> CronSchedule:
    """Parse a cron expression (see the module docs); raises :class:`CronError`."""
    if not isinstance(expression, str):
        raise CronError(f"invalid cron expression {expression!r}: expected a str")
    text = " ".join(expression.lower().split())
    if text.startswith("@"):
        expanded = MACROS.get(text)
        if expanded is None:
            raise CronError(
                f"invalid cron expression {expression!r}: unknown macro (expected one of {', '.join(MACROS)})"
            )
        text = expanded
    fields = text.split(" ") if text else []
    if len(fields) not in (5, 6):
        raise CronError(
            f"invalid cron expression {expression!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week) or 6 (with a year), got {len(fields)}"
        )
    try:
        schedule = _build(expression, fields)
    except _FieldError as exc:
        raise CronError(f"invalid cron expression {expression!r}: {exc}") from None
    if schedule.next_wall(datetime(YEAR_MIN, 1, 1)) is None:
        raise CronError(f"invalid cron expression {expression!r}: it never matches any date")
    return schedule


class _FieldError(Exception):
    pass


def _build(expression: str, fields: list[str]) -> CronSchedule:
    minute, hour, day, month, weekday = fields[:5]
    year = fields[5] if len(fields) == 6 else "*"
    # Parsed in field order, so that an error names the first bad field.
    minutes = _parse_field(minute, 0)
    hours = _parse_field(hour, 1)
    days, last_day, last_workday, nearest = _parse_day_field(day)
    months = _parse_field(month, 3)
    weekdays, last_weekdays, nth = _parse_weekday_field(weekday)
    years = _parse_field(year, 5)
    return CronSchedule(
        expression=expression,
        seconds=(0,),
        minutes=_sorted(minutes),
        hours=_sorted(hours),
        days=frozenset(days),
        months=_sorted(months),
        weekdays=frozenset(weekdays),
        years=_sorted(years),
        last_day=last_day,
        last_weekday_of_month=last_workday,
        nearest_weekdays=frozenset(nearest),
        last_weekdays=frozenset(last_weekdays),
        nth_weekdays=frozenset(nth),
        day_star=day[0] in "*?",
        weekday_star=weekday[0] in "*?",
    )


def _sorted(values: set[int]) -> tuple[int, ...]:
    return tuple(sorted(values))


_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7), (YEAR_MIN, YEAR_MAX))


def _parse_field(text: str, index: int) -> set[int]:
    values: set[int] = set()
    for item in _items(text, index):
        values |= _parse_item(item, index)
    return values


def _items(text: str, index: int) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise _FieldError(f"empty list item in the {_FIELD_NAMES[index]} field {text!r}")
    return items


def _parse_item(item: str, index: int) -> set[int]:
    name = _FIELD_NAMES[index]
    low, high = _BOUNDS[index]
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise _FieldError(f"invalid step {step_text!r} in the {name} field (expected a number >= 1)")
        step = int(step_text)
    if base in ("*", "?"):
        start, end = low, (6 if index == 4 else high)
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(first, index), _value(last, index)
        if index == 4 and end == 0 and start > 0:  # "fri-sun": Sunday ends a week as 7
            end = 7
        if start > end:
            raise _FieldError(f"invalid range {base!r} in the {name} field: it runs backwards")
    else:
        start = _value(base, index)
        end = (6 if index == 4 else high) if slash else start
    values = set(range(start, end + 1, step))
    if index == 4 and 7 in values:  # Sunday is 0 and 7
        values.discard(7)
        values.add(0)
    return values


def _value(token: str, index: int) -> int:
    name = _FIELD_NAMES[index]
    low, high = _BOUNDS[index]
    if not token or not _TOKEN.match(token):
        raise _FieldError(f"invalid value {token!r} in the {name} field")
    if token.isdigit():
        value = int(token)
    elif index == 3 and token in MONTH_NAMES:
        return MONTH_NAMES[token]
    elif index == 4 and token in WEEKDAY_NAMES:
        return WEEKDAY_NAMES[token]
    else:
        raise _FieldError(f"invalid value {token!r} in the {name} field")
    if not low <= value <= high:
        raise _FieldError(f"{name} {value} is out of range {low}-{high}")
    return value


def _parse_day_field(text: str) -> tuple[set[int], bool, bool, set[int]]:
    days: set[int] = set()
    nearest: set[int] = set()
    last_day = last_workday = False
    for item in _items(text, 2):
        if item == "l":
            last_day = True
        elif item == "lw":
            last_workday = True
        elif item.endswith("w") and item[:-1].isdigit():
            nearest.add(_value(item[:-1], 2))
        else:
            days |= _parse_item(item, 2)
    return days, last_day, last_workday, nearest


def _parse_weekday_field(text: str) -> tuple[set[int], set[int], set[tuple[int, int]]]:
    weekdays: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _items(text, 4):
        if "#" in item:
            day_text, _, n_text = item.partition("#")
            if not n_text.isdigit() or not 1 <= int(n_text) <= 5:
                raise _FieldError(f"invalid {item!r} in the day-of-week field: expected <weekday>#<1-5>")
            nth.add((_value(day_text, 4) % 7, int(n_text)))
        elif item == "l":
            raise _FieldError(
                "'L' alone in the day-of-week field is ambiguous: write 'Lsun' (or '0L') for the last "
                "Sunday of the month, or 'L' in the day-of-month field for the last day"
            )
        elif item.startswith("l"):  # the original's L<weekday> and L<weekday>-<weekday>
            last |= _parse_item(item[1:], 4)
        elif item.endswith("l") and "/" not in item:  # the common <weekday>L
            last |= _parse_item(item[:-1], 4)
        else:
            weekdays |= _parse_item(item, 4)
    return weekdays, last, nth


def wall_clock_schedule(
    hour: int, minute: int, second: int = 0, on: date | None = None, *, expression: str = ""
) -> CronSchedule:
    """A schedule for one time of day: daily, or only on the date *on* (a one-shot)."""
    every_day = on is None
    return CronSchedule(
        expression=expression or f"{minute} {hour} * * *",
        seconds=(second,),
        minutes=(minute,),
        hours=(hour,),
        days=frozenset(range(1, 32)) if on is None else frozenset({on.day}),
        months=tuple(range(1, 13)) if on is None else (on.month,),
        weekdays=frozenset(range(7)),
        years=tuple(range(YEAR_MIN, YEAR_MAX + 1)) if on is None else (on.year,),
        day_star=every_day,
        weekday_star=True,
    )


# -- firing in a time zone -----------------------------------------------------------------
def next_fire(schedule: CronSchedule, after: datetime, tz: tzinfo) -> datetime | None:
    """The first instant strictly after *after* at which *schedule* fires in zone *tz*.

    *after* must be aware; the result is an aware UTC ``datetime`` (or ``None`` when the
    expression has no later match, e.g. its years are over). DST follows the rule in the
    module docs.
    """
    if after.tzinfo is None:
        raise ValueError("next_fire needs an aware datetime")
    local = after.astimezone(tz)
    wall = local.replace(tzinfo=None, microsecond=0)
    best = _forward(schedule, after, tz, wall + _ONE_SECOND)
    if schedule.every_hour and local.fold == 0 and _is_ambiguous(wall, tz):
        # *after* lies in the first pass of a repeated hour: the second pass replays local
        # times already behind us, which an elapsed-time expression runs again.
        replay = _replay(schedule, after, tz, wall)
        if replay is not None and (best is None or replay < best):
            best = replay
    return best


def _forward(schedule: CronSchedule, after: datetime, tz: tzinfo, start: datetime) -> datetime | None:
    wall: datetime | None = start
    while wall is not None:
        match = schedule.next_wall(wall)
        if match is None:
            return None
        for instant in _instants(schedule, match, tz):
            if instant > after:
                return instant
        wall = match + _ONE_SECOND
    return None  # pragma: no cover - the loop returns


def _instants(schedule: CronSchedule, wall: datetime, tz: tzinfo) -> tuple[datetime, ...]:
    """The instants a matching wall-clock time fires at, in order (see the DST rule)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return (first,)
    if first < second:  # the wall time happens twice (PEP 495: fold=0 is the earlier one)
        return (first, second) if schedule.every_hour else (first,)
    # The wall time does not exist: fold=1 maps before the gap, fold=0 after it.
    if schedule.every_hour:
        return ()
    return (_transition(tz, second, first),)


def _transition(tz: tzinfo, before: datetime, after: datetime) -> datetime:
    """The first instant in ``(before, after]`` with the offset of *after* (whole seconds)."""
    target = after.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > _ONE_SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + _ONE_SECOND
        if middle.astimezone(tz).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def _is_ambiguous(wall: datetime, tz: tzinfo) -> bool:
    return wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset()


def _replay(schedule: CronSchedule, after: datetime, tz: tzinfo, wall: datetime) -> datetime | None:
    candidate = schedule.next_wall(wall - _MAX_SHIFT)
    while candidate is not None and candidate <= wall:
        if _is_ambiguous(candidate, tz):
            instant = candidate.replace(tzinfo=tz, fold=1).astimezone(UTC)
            if instant > after:
                return instant
        candidate = schedule.next_wall(candidate + _ONE_SECOND)
    return None
