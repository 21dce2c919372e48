"""Interval values, every alias of the original, durations, timestamps, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tomodachi.transport.schedule.triggers import (
    ALIASES,
    CronTrigger,
    IntervalTrigger,
    TriggerError,
    make_trigger,
)

T0 = datetime(2024, 1, 3, 10, 20, 30, tzinfo=UTC)  # a Wednesday


def next_due(interval: object = None, timestamp: object = None, after: datetime = T0) -> datetime | None:
    trigger = make_trigger(interval, timestamp, "UTC")
    if isinstance(trigger, IntervalTrigger):
        trigger = trigger.anchored(after)
    return trigger.next_after(after)


SECOND_ALIASES = ["every second", "1s", "1 s", "1second", "1 second", "second", "secondly", "once per second"]
CRON_ALIASES = {
    "* * * * *": [
        "every minute",
        "1m",
        "1 m",
        "1minute",
        "1 minute",
        "minute",
        "minutely",
        "once per minute",
    ],
    "0 * * * *": ["every hour", "1h", "1 h", "1hour", "1 hour", "hour", "hourly", "once per hour"],
    "0 0 * * *": ["every day", "1d", "1 d", "1day", "1 day", "day", "daily", "once per day", "nightly"],
    "0 0 1 * *": ["every month", "1month", "1 month", "month", "monthly", "once per month"],
    "0 0 1 1 *": [
        "every year",
        "1y",
        "1 y",
        "1year",
        "1 year",
        "year",
        "yearly",
        "once per year",
        "annually",
    ],
    "0 0 * * 1": [
        "monday",
        "mondays",
        "mon",
        "every monday",
        "once per monday",
        "weekly",
        "once per week",
        "week",
        "every week",
    ],
    "0 0 * * 2": ["tuesday", "tuesdays", "tue", "every tuesday", "once per tuesday"],
    "0 0 * * 3": ["wednesday", "wednesdays", "wed", "every wednesday", "once per wednesday"],
    "0 0 * * 4": ["thursday", "thursdays", "thu", "every thursday", "once per thursday"],
    "0 0 * * 5": ["friday", "fridays", "fri", "every friday", "once per friday"],
    "0 0 * * 6": ["saturday", "saturdays", "sat", "every saturday", "once per saturday"],
    "0 0 * * 0": ["sunday", "sundays", "sun", "every sunday", "once per sunday"],
    "0 0 * * 1-5": ["weekday", "weekdays", "every weekday"],
    "0 0 * * 0,6": ["weekend", "weekends", "every weekend"],
}


@pytest.mark.parametrize("alias", SECOND_ALIASES)
def test_second_aliases(alias: str) -> None:
    assert make_trigger(alias, timezone="UTC") == IntervalTrigger(timedelta(seconds=1))
    assert make_trigger(alias.upper(), timezone="UTC") == IntervalTrigger(timedelta(seconds=1))


@pytest.mark.parametrize(
    ("cron", "alias"), [(cron, alias) for cron, names in CRON_ALIASES.items() for alias in names]
)
def test_cron_aliases(cron: str, alias: str) -> None:
    trigger = make_trigger(alias, timezone="UTC")
    assert isinstance(trigger, CronTrigger)
    assert trigger.schedule.expression == cron
    assert make_trigger(f"  {alias.title()} ", timezone="UTC") == trigger


def test_alias_table_is_complete() -> None:
    listed = set(SECOND_ALIASES) | {alias for names in CRON_ALIASES.values() for alias in names}
    assert listed == set(ALIASES)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("every minute", datetime(2024, 1, 3, 10, 21, tzinfo=UTC)),
        ("hourly", datetime(2024, 1, 3, 11, 0, tzinfo=UTC)),
        ("daily", datetime(2024, 1, 4, 0, 0, tzinfo=UTC)),
        ("monthly", datetime(2024, 2, 1, tzinfo=UTC)),
        ("yearly", datetime(2025, 1, 1, tzinfo=UTC)),
        ("mondays", datetime(2024, 1, 8, tzinfo=UTC)),
        ("weekly", datetime(2024, 1, 8, tzinfo=UTC)),
        ("friday", datetime(2024, 1, 5, tzinfo=UTC)),
        ("weekdays", datetime(2024, 1, 4, tzinfo=UTC)),
        ("weekends", datetime(2024, 1, 6, tzinfo=UTC)),
    ],
)
def test_aliases_follow_the_wall_clock(alias: str, expected: datetime) -> None:
    assert next_due(alias) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1, 1),
        (30, 30),
        (0.25, 0.25),
        (timedelta(minutes=2), 120),
        ("30", 30),
        ("90 seconds", 90),
        ("90s", 90),
        ("5 minutes", 300),
        ("5 mins", 300),
        ("5m", 300),
        ("2 hours", 7200),
        ("2h", 7200),
        ("1.5h", 5400),
        ("1h 30m", 5400),
        ("1h30m", 5400),
        ("1 hour 30 minutes", 5400),
        ("3 days", 259200),
        ("2 weeks", 1209600),
        ("every 10 minutes", 600),
        ("Every 10 Minutes", 600),
    ],
)
def test_durations_count_from_the_start(value: object, seconds: float) -> None:
    trigger = make_trigger(value, timezone="UTC")
    assert trigger == IntervalTrigger(timedelta(seconds=seconds))
    assert next_due(value) == T0 + timedelta(seconds=seconds)


def test_interval_due_times_never_drift() -> None:
    trigger = IntervalTrigger(timedelta(seconds=10)).anchored(T0)
    assert trigger.next_after(T0) == T0 + timedelta(seconds=10)
    # However late the previous run, the next due time stays on the grid.
    assert trigger.next_after(T0 + timedelta(seconds=10.7)) == T0 + timedelta(seconds=20)
    assert trigger.next_after(T0 + timedelta(seconds=3600)) == T0 + timedelta(seconds=3610)
    assert trigger.next_after(T0 - timedelta(seconds=5)) == T0
    assert IntervalTrigger(timedelta(seconds=10)).next_after(T0) == T0 + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*/15 * * * *", datetime(2024, 1, 3, 10, 30, tzinfo=UTC)),
        ("@hourly", datetime(2024, 1, 3, 11, 0, tzinfo=UTC)),
        ("0 9 * * mon-fri", datetime(2024, 1, 4, 9, 0, tzinfo=UTC)),
        ("0 12 * * Lsun", datetime(2024, 1, 28, 12, 0, tzinfo=UTC)),
        ("0 0 * * * 2030", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_cron_intervals(value: str, expected: datetime) -> None:
    assert next_due(value) == expected


@pytest.mark.parametrize(
    ("timestamp", "after", "expected"),
    [
        ("22:00", T0, datetime(2024, 1, 3, 22, 0, tzinfo=UTC)),
        ("08:00", T0, datetime(2024, 1, 4, 8, 0, tzinfo=UTC)),
        ("8:05", T0, datetime(2024, 1, 4, 8, 5, tzinfo=UTC)),
        ("10:20:45", T0, datetime(2024, 1, 3, 10, 20, 45, tzinfo=UTC)),
        ("10:20:30", T0, datetime(2024, 1, 4, 10, 20, 30, tzinfo=UTC)),
        ("2024-02-29 13:00", T0, datetime(2024, 2, 29, 13, 0, tzinfo=UTC)),
        ("2024-02-29 13:00:05", T0, datetime(2024, 2, 29, 13, 0, 5, tzinfo=UTC)),
        ("2024-02-29T13:00", T0, datetime(2024, 2, 29, 13, 0, tzinfo=UTC)),
        ("2024-02-29 13:00", datetime(2024, 2, 29, 13, 0, tzinfo=UTC), None),
        ("2020-01-01 00:00", T0, None),
    ],
)
def test_timestamps(timestamp: str, after: datetime, expected: datetime | None) -> None:
    assert next_due(timestamp=timestamp, after=after) == expected


def test_timestamp_and_cron_in_a_time_zone() -> None:
    trigger = make_trigger(timestamp="08:00", timezone="Europe/Stockholm")
    assert trigger.next_after(T0) == datetime(2024, 1, 4, 7, 0, tzinfo=UTC)  # 08:00 CET
    summer = datetime(2024, 7, 1, tzinfo=UTC)
    assert trigger.next_after(summer) == datetime(2024, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    offset = make_trigger("0 8 * * *", timezone="+05:30")
    assert offset.next_after(T0) == datetime(2024, 1, 4, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": "5 fortnights"}, "invalid interval '5 fortnights': expected seconds, a duration"),
        ({"interval": "2 months"}, "months and years have no fixed length"),
        ({"interval": "61 * * * *"}, "invalid cron expression '61 * * * *': minute 61 is out of range 0-59"),
        ({"interval": "* * 30 2 *"}, "never matches any date"),
        ({"interval": "@reboot"}, "unknown macro"),
        ({"interval": 0}, "invalid interval 0: expected a positive number of seconds"),
        ({"interval": -5}, "invalid interval -5"),
        ({"interval": float("nan")}, "invalid interval nan"),
        ({"interval": True}, "invalid interval True"),
        ({"interval": [1]}, "invalid interval [1]"),
        ({"interval": "0 minutes"}, "invalid interval '0 minutes'"),
        ({"interval": ""}, "invalid interval ''"),
        ({"timestamp": "25:00"}, "invalid timestamp '25:00'"),
        ({"timestamp": "12:60"}, "invalid timestamp '12:60'"),
        ({"timestamp": "2024-02-30 10:00"}, "invalid timestamp '2024-02-30 10:00': day is out of range"),
        ({"timestamp": "noon"}, "invalid timestamp 'noon': expected 'HH:MM[:SS]'"),
        ({"timestamp": 1200}, "invalid timestamp 1200"),
        ({}, "no interval or timestamp given"),
        ({"interval": 5, "timestamp": "10:00"}, "both interval=5 and timestamp='10:00' given"),
        ({"interval": 5, "timezone": "Mars/Olympus_Mons"}, "unknown timezone 'Mars/Olympus_Mons'"),
        ({"interval": 5, "timezone": "+15:00"}, "offsets range from -12:00 to +14:00"),
    ],
)
def test_errors_are_one_line_and_name_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TriggerError) as info:
        make_trigger(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
