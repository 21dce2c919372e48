"""When a cron expression fires next, in time zones with DST: tables, and a brute-force oracle.

The oracle walks real time minute by minute (UTC), converts each minute to the local wall
clock and applies the documented rule directly:

- the local time matches -> fire, except on the second pass of a repeated local time when
  the hour field is restricted (wall-clock appointments run once, at the first occurrence);
- the local clock just jumped forward over a gap -> fire if any skipped local time matched
  and the hour field is restricted (a missed appointment runs at the first instant after).

Day matching is re-implemented here from the definitions (not with the scheduler's code).
"""

from __future__ import annotations

import calendar
import functools
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tomodachi.transport.schedule.cron import CronSchedule, next_fire, parse_cron, wall_clock_schedule

MINUTE = timedelta(minutes=1)
WINDOW = timedelta(days=4)

ZONES = [
    "UTC",
    "Europe/Stockholm",
    "America/New_York",
    "America/Sao_Paulo",  # DST at midnight until 2019
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Europe/Dublin",  # negative DST in the database
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 with DST
    "Antarctica/Troll",  # two-hour DST shift
]


# -- oracle --------------------------------------------------------------------------------
def _weekday(d: date) -> int:
    return (d.weekday() + 1) % 7  # cron numbering, Sunday = 0


def _closest(days: list[int], n: int) -> int:
    return min(days, key=lambda x: abs(x - n))


def oracle_day(s: CronSchedule, d: date) -> bool:
    if d.month not in s.months or d.year not in s.years:
        return False
    ndays = calendar.monthrange(d.year, d.month)[1]
    month_days = [date(d.year, d.month, x) for x in range(1, ndays + 1)]
    workdays = [x.day for x in month_days if x.weekday() < 5]
    nearest = {_closest(workdays, n) for n in s.nearest_weekdays if n <= ndays}
    dom = (
        d.day in s.days
        or (s.last_day and d.day == ndays)
        or (s.last_weekday_of_month and d.day == workdays[-1])
        or d.day in nearest
    )
    weekday = _weekday(d)
    same_weekday_before = sum(1 for x in month_days if x <= d and x.weekday() == d.weekday())
    dow = (
        weekday in s.weekdays
        or (weekday in s.last_weekdays and (d + timedelta(days=7)).month != d.month)
        or (weekday, same_weekday_before) in s.nth_weekdays
    )
    if s.day_star or s.weekday_star:
        return dom and dow
    return dom or dow


def oracle_matches(s: CronSchedule, wall: datetime) -> bool:
    return (
        wall.second in s.seconds
        and wall.minute in s.minutes
        and wall.hour in s.hours
        and oracle_day(s, wall.date())
    )


def oracle_next(s: CronSchedule, after: datetime, tz: tzinfo, window: timedelta = WINDOW) -> datetime | None:
    every_hour = set(s.hours) == set(range(24))
    t = after.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
    end = after + window
    previous = (t - MINUTE).astimezone(tz).replace(tzinfo=None)
    while t <= end:
        local = t.astimezone(tz)
        wall = local.replace(tzinfo=None)
        if oracle_matches(s, wall) and not (local.fold == 1 and not every_hour):
            return t
        if not every_hour and wall - previous > MINUTE:
            skipped = previous + MINUTE
            while skipped < wall:
                if oracle_matches(s, skipped):
                    return t
                skipped += MINUTE
        previous = wall
        t += MINUTE
    return None


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """Days (UTC noon) just before the zone's offset changes, 2000-2037."""
    tz = ZoneInfo(zone)
    found = []
    t = datetime(2000, 1, 1, 12, tzinfo=UTC)
    offset = t.astimezone(tz).utcoffset()
    while t.year < 2038:
        nxt = t + timedelta(days=1)
        new = nxt.astimezone(tz).utcoffset()
        if new != offset:
            found.append(t)
            offset = new
        t = nxt
    return tuple(found)


@functools.cache
def transition_instants(zone: str) -> tuple[datetime, ...]:
    """The exact instants (to the minute) at which the zone's offset changes, 2000-2037."""
    tz = ZoneInfo(zone)
    found = []
    for day in transitions(zone):
        low, high = day, day + timedelta(days=1)
        target = high.astimezone(tz).utcoffset()
        while high - low > MINUTE:
            middle = (low + (high - low) / 2).replace(second=0, microsecond=0)
            if middle.astimezone(tz).utcoffset() == target:
                high = middle
            else:
                low = middle
        found.append(high)
    return tuple(found)


# -- generated expressions -----------------------------------------------------------------
def _items(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda ab: f"{min(ab)}-{max(ab)}")
    step = st.tuples(st.integers(low, high), st.integers(1, 20)).map(lambda an: f"{an[0]}/{an[1]}")
    star_step = st.integers(1, 20).map(lambda n: f"*/{n}")
    return st.one_of(value, ranged, step, star_step)


def _field(low: int, high: int, star_weight: int) -> st.SearchStrategy[str]:
    listed = st.lists(_items(low, high), min_size=1, max_size=3).map(",".join)
    return st.one_of(*([st.just("*")] * star_weight), listed)


_DAY_SPECIAL = st.sampled_from(["L", "LW", "1W", "15W", "30W", "31", "L,1", "29", "?"])
_WEEKDAY_SPECIAL = st.sampled_from(
    ["mon-fri", "Lsun", "5L", "Lwed-fri", "fri#2", "mon#1,thu#5", "sat,sun", "?", "0", "7", "*/2"]
)

expressions = st.builds(
    lambda minute, hour, day, month, weekday, year: f"{minute} {hour} {day} {month} {weekday}{year}",
    _field(0, 59, 1),
    st.one_of(st.just("*"), st.just("*"), _field(0, 23, 0), st.sampled_from(["0-3", "1,2", "2", "23,0"])),
    st.one_of(st.just("*"), st.just("*"), st.just("*"), _DAY_SPECIAL, _field(1, 31, 0)),
    st.one_of(st.just("*"), st.just("*"), st.just("*"), _field(1, 12, 0)),
    st.one_of(st.just("*"), st.just("*"), _WEEKDAY_SPECIAL),
    st.one_of(st.just(""), st.just(""), st.just(""), st.just(" 2000-2037"), st.just(" */3")),
)


@st.composite
def moments(draw: st.DrawFn, zone: str) -> datetime:
    """An instant 2000-2037, often within a day or two before a DST change."""
    near = transitions(zone)
    use_near: bool = draw(st.booleans())
    if near and use_near:
        base = draw(st.sampled_from(near))
        return base + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))
    if draw(st.booleans()):  # near the end of a month (L, W, #5)
        year, month = draw(st.integers(2000, 2037)), draw(st.integers(1, 12))
        day = calendar.monthrange(year, month)[1] - draw(st.integers(0, 3))
        return datetime(year, month, day, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 86399)))
    return draw(st.datetimes(datetime(2000, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC)))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), expressions, st.sampled_from(ZONES))
def test_next_fire_agrees_with_the_minute_by_minute_oracle(
    data: st.DataObject, expression: str, zone: str
) -> None:
    try:
        schedule = parse_cron(expression)
    except ValueError:
        assume(False)
        raise
    tz = ZoneInfo(zone)
    after = data.draw(moments(zone))
    expected = oracle_next(schedule, after, tz)
    actual = next_fire(schedule, after, tz)
    if expected is not None:
        assert actual == expected, (expression, zone, after)
    else:
        assert actual is None or actual > after + WINDOW, (expression, zone, after, actual)


@settings(deadline=None)
@given(expressions, st.sampled_from(ZONES), st.data())
def test_consecutive_fires_are_increasing_and_match(expression: str, zone: str, data: st.DataObject) -> None:
    try:
        schedule = parse_cron(expression)
    except ValueError:
        assume(False)
        raise
    tz = ZoneInfo(zone)
    t: datetime | None = data.draw(moments(zone))
    for _ in range(5):
        assert t is not None
        nxt = next_fire(schedule, t, tz)
        if nxt is None:
            break
        assert nxt > t
        assert nxt.tzinfo is UTC
        # Each fire is what the oracle finds when starting just before it.
        assert oracle_next(schedule, nxt - timedelta(seconds=1), tz, timedelta(minutes=2)) == nxt
        t = nxt


dst_expressions = st.builds(
    lambda minute, hour, rest: f"{minute} {hour} {rest}",
    st.one_of(st.just("*"), _field(0, 59, 0), st.sampled_from(["0", "30", "*/15", "0,45"])),
    st.one_of(st.just("*"), st.sampled_from(["0-3", "1", "2", "3", "1,2", "0", "23,0", "2-4", "*/2"])),
    st.sampled_from(["* * *", "* * *", "* * mon-fri", "L * *", "? * sun"]),
)
DST_ZONES = [zone for zone in ZONES if zone not in ("UTC", "Asia/Kolkata")]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), dst_expressions, st.sampled_from(DST_ZONES))
def test_next_fire_agrees_with_the_oracle_around_dst_changes(
    data: st.DataObject, expression: str, zone: str
) -> None:
    schedule = parse_cron(expression)
    tz = ZoneInfo(zone)
    instant = data.draw(st.sampled_from(transition_instants(zone)))
    after = instant + timedelta(seconds=data.draw(st.integers(-4 * 3600, 3 * 3600)))
    window = timedelta(hours=30)
    expected = oracle_next(schedule, after, tz, window)
    actual = next_fire(schedule, after, tz)
    if expected is not None:
        assert actual == expected, (expression, zone, after)
    else:
        assert actual is None or actual > after + window, (expression, zone, after, actual)


# -- DST tables ----------------------------------------------------------------------------
def fires(expression: str | CronSchedule, zone: str, start: datetime, until: datetime) -> list[str]:
    schedule = parse_cron(expression) if isinstance(expression, str) else expression
    tz = ZoneInfo(zone)
    out: list[str] = []
    t: datetime | None = start
    while True:
        assert t is not None
        t = next_fire(schedule, t, tz)
        if t is None or t > until:
            return out
        out.append(t.astimezone(tz).strftime("%m-%d %H:%M:%S %Z"))


def test_daily_0230_runs_once_on_spring_forward_day_at_0300() -> None:
    # Stockholm, 2024-03-31: 02:00 CET -> 03:00 CEST.
    got = fires(
        "30 2 * * *", "Europe/Stockholm", datetime(2024, 3, 29, tzinfo=UTC), datetime(2024, 4, 2, tzinfo=UTC)
    )
    assert got == ["03-29 02:30:00 CET", "03-30 02:30:00 CET", "03-31 03:00:00 CEST", "04-01 02:30:00 CEST"]


def test_daily_0230_runs_once_on_fall_back_day_at_the_first_occurrence() -> None:
    # Stockholm, 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    got = fires(
        "30 2 * * *",
        "Europe/Stockholm",
        datetime(2024, 10, 25, tzinfo=UTC),
        datetime(2024, 10, 29, tzinfo=UTC),
    )
    assert got == ["10-25 02:30:00 CEST", "10-26 02:30:00 CEST", "10-27 02:30:00 CEST", "10-28 02:30:00 CET"]


def test_hourly_follows_elapsed_time_across_both_changes() -> None:
    spring = fires(
        "0 * * * *",
        "Europe/Stockholm",
        datetime(2024, 3, 30, 23, 30, tzinfo=UTC),
        datetime(2024, 3, 31, 2, 0, tzinfo=UTC),
    )
    assert spring == ["03-31 01:00:00 CET", "03-31 03:00:00 CEST", "03-31 04:00:00 CEST"]
    fall = fires(
        "0 * * * *",
        "Europe/Stockholm",
        datetime(2024, 10, 26, 23, 30, tzinfo=UTC),
        datetime(2024, 10, 27, 3, 0, tzinfo=UTC),
    )
    assert fall == ["10-27 02:00:00 CEST", "10-27 02:00:00 CET", "10-27 03:00:00 CET", "10-27 04:00:00 CET"]


def test_every_twenty_minutes_in_a_repeated_hour_from_its_middle() -> None:
    # Starting inside the first pass of the repeated hour, the second pass replays 02:00-02:40.
    start = datetime(2024, 10, 27, 0, 25, tzinfo=UTC)  # 02:25 CEST
    got = fires("*/20 * * * *", "Europe/Stockholm", start, datetime(2024, 10, 27, 2, 0, tzinfo=UTC))
    assert got == [
        "10-27 02:40:00 CEST",
        "10-27 02:00:00 CET",
        "10-27 02:20:00 CET",
        "10-27 02:40:00 CET",
        "10-27 03:00:00 CET",
    ]


def test_new_york_and_lord_howe() -> None:
    # New York, 2024-03-10 02:00 EST -> 03:00 EDT, and 2024-11-03 02:00 EDT -> 01:00 EST.
    assert fires(
        "30 2 * * *",
        "America/New_York",
        datetime(2024, 3, 10, tzinfo=UTC),
        datetime(2024, 3, 11, 12, tzinfo=UTC),
    ) == [
        "03-10 03:00:00 EDT",
        "03-11 02:30:00 EDT",
    ]
    assert fires(
        "30 1 * * *",
        "America/New_York",
        datetime(2024, 11, 3, tzinfo=UTC),
        datetime(2024, 11, 4, 12, tzinfo=UTC),
    ) == [
        "11-03 01:30:00 EDT",
        "11-04 01:30:00 EST",
    ]
    # Lord Howe, 2024-10-06: 02:00 -> 02:30 (+10:30 -> +11); 02:15 does not exist.
    got = fires(
        "15 2 * * *",
        "Australia/Lord_Howe",
        datetime(2024, 10, 5, tzinfo=UTC),
        datetime(2024, 10, 7, 12, tzinfo=UTC),
    )
    assert got == ["10-06 02:30:00 +11", "10-07 02:15:00 +11"]


def test_midnight_that_does_not_exist() -> None:
    # Sao Paulo, 2018-11-04: 00:00 -> 01:00. A daily midnight job runs at 01:00.
    got = fires(
        "@daily",
        "America/Sao_Paulo",
        datetime(2018, 11, 3, 12, tzinfo=UTC),
        datetime(2018, 11, 5, 12, tzinfo=UTC),
    )
    assert got == ["11-04 01:00:00 -02", "11-05 00:00:00 -02"]


def test_a_whole_skipped_day() -> None:
    # Samoa skipped 2011-12-30 entirely; a job on that day runs at the first instant after it.
    got = fires(
        "0 12 30 12 *", "Pacific/Apia", datetime(2011, 12, 28, tzinfo=UTC), datetime(2012, 1, 1, tzinfo=UTC)
    )
    assert got == ["12-31 00:00:00 +14"]


def test_timestamp_with_seconds_in_a_gap_and_in_a_fold() -> None:
    schedule = wall_clock_schedule(2, 30, 15)
    spring = fires(
        schedule,
        "Europe/Stockholm",
        datetime(2024, 3, 30, 12, tzinfo=UTC),
        datetime(2024, 4, 1, 12, tzinfo=UTC),
    )
    assert spring == ["03-31 03:00:00 CEST", "04-01 02:30:15 CEST"]
    fall = fires(
        schedule,
        "Europe/Stockholm",
        datetime(2024, 10, 26, 12, tzinfo=UTC),
        datetime(2024, 10, 28, 12, tzinfo=UTC),
    )
    assert fall == ["10-27 02:30:15 CEST", "10-28 02:30:15 CET"]


def test_fixed_offsets_and_naive_input() -> None:
    plus_one = timezone(timedelta(hours=1))
    schedule = parse_cron("0 9 * * *")
    assert next_fire(schedule, datetime(2024, 1, 1, 8, 0, tzinfo=plus_one), plus_one) == datetime(
        2024, 1, 1, 8, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="aware"):
        next_fire(schedule, datetime(2024, 1, 1), UTC)


def test_expired_year_and_one_shot() -> None:
    assert next_fire(parse_cron("0 0 1 1 * 2020"), datetime(2024, 1, 1, tzinfo=UTC), UTC) is None
    once = wall_clock_schedule(8, 0, 0, date(2030, 5, 17))
    first = next_fire(once, datetime(2024, 1, 1, tzinfo=UTC), UTC)
    assert first == datetime(2030, 5, 17, 8, 0, tzinfo=UTC)
    assert next_fire(once, first, UTC) is None


def test_result_is_strictly_after_and_second_precise() -> None:
    schedule = parse_cron("* * * * *")
    t = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert next_fire(schedule, t, UTC) == t + MINUTE
    assert next_fire(schedule, t - timedelta(microseconds=1), UTC) == t
