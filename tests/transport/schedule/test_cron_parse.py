"""The cron dialect: what each form expands to, and the one-line errors for bad expressions."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tomodachi.transport.schedule.cron import CronError, CronSchedule, parse_cron

ALL_MINUTES = tuple(range(60))


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("* * * * *", ALL_MINUTES),
        ("? * * * *", ALL_MINUTES),
        ("5 * * * *", (5,)),
        ("5,10,59 * * * *", (5, 10, 59)),
        ("10-13 * * * *", (10, 11, 12, 13)),
        ("*/15 * * * *", (0, 15, 30, 45)),
        ("7/8 * * * *", (7, 15, 23, 31, 39, 47, 55)),
        ("10-30/10 * * * *", (10, 20, 30)),
        ("1-5,50-52/2 * * * *", (1, 2, 3, 4, 5, 50, 52)),
    ],
)
def test_minute_field(expression: str, minutes: tuple[int, ...]) -> None:
    assert parse_cron(expression).minutes == minutes


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", {0, 1, 2, 3, 4, 5, 6}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("MON-FRI", {1, 2, 3, 4, 5}),
        ("fri-sun", {5, 6, 0}),
        ("7", {0}),
        ("0", {0}),
        ("sun,sat", {0, 6}),
        ("*/2", {0, 2, 4, 6}),
        ("1/2", {1, 3, 5}),
        ("monday,Wednesday", {1, 3}),
    ],
)
def test_weekday_field(field: str, expected: set[int]) -> None:
    assert parse_cron(f"0 0 * * {field}").weekdays == expected


def test_month_names_and_year_field() -> None:
    schedule = parse_cron("0 0 1 jan-mar,dec * 2030-2032")
    assert schedule.months == (1, 2, 3, 12)
    assert schedule.years == (2030, 2031, 2032)
    assert parse_cron("0 0 1 January *").months == (1,)


def test_five_fields_cover_every_year() -> None:
    years = parse_cron("* * * * *").years
    assert years[0] == 1970 and years[-1] == 2199


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@minutely", "* * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_macros(macro: str, equivalent: str) -> None:
    a, b = parse_cron(macro), parse_cron(equivalent)
    assert (a.minutes, a.hours, a.days, a.months, a.weekdays) == (
        b.minutes,
        b.hours,
        b.days,
        b.months,
        b.weekdays,
    )


def days(expression: str, year: int, month: int) -> tuple[int, ...]:
    return parse_cron(expression).days_of_month(year, month)


def test_last_day_and_last_weekdays() -> None:
    assert days("39 3 L * *", 2024, 2) == (29,)
    assert days("39 3 L * *", 2023, 2) == (28,)
    assert days("0 0 L * *", 2024, 4) == (30,)
    # The last Sunday of March 2024 is the 31st; of February 2024 the 25th.
    assert days("0 0 * * Lsun", 2024, 3) == (31,)
    assert days("0 0 * * Lsun", 2024, 2) == (25,)
    assert days("0 0 * * 0L", 2024, 2) == (25,)
    assert days("0 0 * * sunL", 2024, 2) == (25,)
    # Ltue, and a range of last weekdays (Lwed-fri) in January 2024 (Wed 31, Thu 25, Fri 26).
    assert days("0 0 * * Ltue", 2024, 1) == (30,)
    assert days("0 0 * * Lwed-fri", 2024, 1) == (25, 26, 31)


def test_nth_weekday() -> None:
    # January 2024: Fridays are 5, 12, 19, 26.
    assert days("0 0 * * fri#2", 2024, 1) == (12,)
    assert days("0 0 * * 5#4", 2024, 1) == (26,)
    assert days("0 0 * * fri#5", 2024, 1) == ()
    assert days("0 0 * * mon#1,fri#1", 2024, 1) == (1, 5)


def test_nearest_weekday() -> None:
    # June 2024: the 1st is a Saturday, the 15th a Saturday, the 16th a Sunday, the 30th a Sunday.
    assert days("0 0 1W * *", 2024, 6) == (3,)  # never into May: Monday the 3rd
    assert days("0 0 15W * *", 2024, 6) == (14,)
    assert days("0 0 16W * *", 2024, 6) == (17,)
    assert days("0 0 30W * *", 2024, 6) == (28,)  # never into July: Friday the 28th
    assert days("0 0 12W * *", 2024, 6) == (12,)  # a Wednesday stays put
    assert days("0 0 31W * *", 2024, 6) == ()  # June has no 31st
    assert days("0 0 LW * *", 2024, 6) == (28,)
    assert days("0 0 LW * *", 2024, 5) == (31,)


def test_day_fields_or_when_both_restricted_and_when_one_is_star() -> None:
    # January 2024: Mondays are 1, 8, 15, 22, 29.
    assert days("0 0 13 * mon", 2024, 1) == (1, 8, 13, 15, 22, 29)  # OR
    assert days("0 0 */2 * mon", 2024, 1) == (1, 15, 29)  # starts with '*': AND
    assert days("0 0 ? * mon", 2024, 1) == (1, 8, 15, 22, 29)
    assert days("0 0 13 * ?", 2024, 1) == (13,)
    assert days("0 0 L * fri#1", 2024, 1) == (5, 31)


def test_matches_and_next_wall() -> None:
    schedule = parse_cron("30 2 * * mon-fri")
    assert schedule.matches(datetime(2024, 1, 1, 2, 30))
    assert not schedule.matches(datetime(2024, 1, 6, 2, 30))  # Saturday
    assert not schedule.matches(datetime(2024, 1, 1, 2, 30, 1))
    assert schedule.next_wall(datetime(2024, 1, 5, 3, 0)) == datetime(2024, 1, 8, 2, 30)
    assert schedule.next_wall(datetime(2024, 1, 5, 2, 30)) == datetime(2024, 1, 5, 2, 30)
    assert schedule.next_wall(datetime(2024, 1, 5, 2, 30, 0, 1)) == datetime(2024, 1, 8, 2, 30)
    assert parse_cron("0 0 1 1 * 2030").next_wall(datetime(2031, 1, 1)) is None


def test_every_hour_flag() -> None:
    assert parse_cron("*/5 * * * *").every_hour
    assert parse_cron("0 */1 * * *").every_hour
    assert not parse_cron("0 */2 * * *").every_hour
    assert not parse_cron("@daily").every_hour


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week 8 is out of range 0-7"),
        ("* * * * * 1969", "year 1969 is out of range 1970-2199"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "got 7"),
        ("", "got 0"),
        ("* * 30 2 *", "never matches any date"),
        ("* * 31 4,6,9,11 *", "never matches any date"),
        ("* * * * wed-mon", "runs backwards"),
        ("30-10 * * * *", "runs backwards"),
        ("*/0 * * * *", "invalid step '0'"),
        ("*/x * * * *", "invalid step 'x'"),
        ("1,,2 * * * *", "empty list item"),
        ("* * * foo *", "invalid value 'foo' in the month field"),
        ("* * * * L", "'L' alone in the day-of-week field is ambiguous"),
        ("* * * * fri#6", "expected <weekday>#<1-5>"),
        ("* * * * fri#0", "expected <weekday>#<1-5>"),
        ("* * 32W * *", "day-of-month 32 is out of range"),
        ("@reboot", "unknown macro"),
        ("a b c d e", "invalid value 'a' in the minute field"),
        ("-5 * * * *", "invalid value ''"),
    ],
)
def test_errors_name_the_field_and_value(expression: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expression)
    text = str(info.value)
    assert message in text
    assert f"invalid cron expression {expression!r}" in text
    assert "\n" not in text
    assert isinstance(info.value, ValueError)


# -- property: the parser expands generated fields to exactly the described set ----------------
FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12)]


@st.composite
def field_items(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    kind = draw(st.sampled_from(["value", "range", "step", "range-step", "star-step"]))
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    n = draw(st.integers(1, high - low + 2))
    if kind == "value":
        return str(a), {a}
    if kind == "range":
        return f"{a}-{b}", set(range(a, b + 1))
    if kind == "step":
        return f"{a}/{n}", set(range(a, high + 1, n))
    if kind == "range-step":
        return f"{a}-{b}/{n}", set(range(a, b + 1, n))
    return f"*/{n}", set(range(low, high + 1, n))


@st.composite
def fields(draw: st.DrawFn, index: int) -> tuple[str, set[int]]:
    low, high = FIELDS[index]
    items = draw(st.lists(field_items(low, high), min_size=1, max_size=4))
    text = ",".join(item for item, _ in items)
    values: set[int] = set().union(*(v for _, v in items))
    return text, values


@given(fields(0), fields(1), fields(3))
def test_generated_fields_expand_to_the_described_sets(
    minute: tuple[str, set[int]], hour: tuple[str, set[int]], month: tuple[str, set[int]]
) -> None:
    schedule = parse_cron(f"{minute[0]} {hour[0]} * {month[0]} *")
    assert isinstance(schedule, CronSchedule)
    assert set(schedule.minutes) == minute[1]
    assert set(schedule.hours) == hour[1]
    assert set(schedule.months) == month[1]
