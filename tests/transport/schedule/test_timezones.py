"""Time zone values: IANA names, the original's offset forms, the local zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from tomodachi.transport.schedule.timezones import TimezoneError, local_timezone, resolve_timezone

WINTER = datetime(2024, 1, 15, 12, tzinfo=UTC)
SUMMER = datetime(2024, 7, 15, 12, tzinfo=UTC)


def offset(tz: tzinfo, when: datetime = WINTER) -> timedelta | None:
    return when.astimezone(tz).utcoffset()


@pytest.mark.parametrize(
    ("value", "hours"),
    [
        ("+01:00", 1),
        ("+0100", 1),
        ("+1", 1),
        ("-05:00", -5),
        ("-5", -5),
        ("GMT +1", 1),
        ("GMT +01", 1),
        ("GMT +01:00", 1),
        ("GMT-3", -3),
        ("UTC+02:00", 2),
        ("utc -12", -12),
        ("+14:00", 14),
        ("00:00", 0),
        ("GMT +0", 0),
        ("+05:30", 5.5),
        ("UTC", 0),
        ("utc", 0),
        ("GMT", 0),
        ("Z", 0),
        ("Etc/GMT+1", -1),  # the IANA name keeps its POSIX meaning
    ],
)
def test_offsets(value: str, hours: float) -> None:
    assert offset(resolve_timezone(value)) == timedelta(hours=hours)


def test_iana_names_with_dst_and_any_case() -> None:
    for value in ("Europe/Stockholm", "europe/stockholm", "EUROPE/STOCKHOLM"):
        tz = resolve_timezone(value)
        assert offset(tz, WINTER) == timedelta(hours=1)
        assert offset(tz, SUMMER) == timedelta(hours=2)
    assert resolve_timezone("America/New_York") == ZoneInfo("America/New_York")


def test_tzinfo_objects_pass_through() -> None:
    tz = timezone(timedelta(hours=3))
    assert resolve_timezone(tz) is tz
    assert resolve_timezone(UTC) is UTC


def test_local_zone_follows_tz_and_keeps_dst(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    for tz in (resolve_timezone(None), resolve_timezone("local"), local_timezone()):
        assert offset(tz, WINTER) == timedelta(hours=-5)
        assert offset(tz, SUMMER) == timedelta(hours=-4)
    monkeypatch.setenv("TZ", ":Europe/Stockholm")
    assert offset(local_timezone(), SUMMER) == timedelta(hours=2)
    monkeypatch.setenv("TZ", "UTC")
    assert local_timezone() is UTC


def test_local_zone_without_tz_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    tz = local_timezone()
    assert offset(tz) is not None
    monkeypatch.setenv("TZ", "Not/A_Zone")  # falls back to the system zone
    assert offset(local_timezone()) is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Mars/Olympus_Mons", "unknown timezone 'Mars/Olympus_Mons'"),
        ("", "invalid timezone ''"),
        ("+15:00", "offsets range from -12:00 to +14:00"),
        ("-13", "offsets range from -12:00 to +14:00"),
        ("+01:75", "minutes must be below 60"),
        ("../../etc/passwd", "unknown timezone"),
        (5, "invalid timezone 5"),
    ],
)
def test_errors(value: object, message: str) -> None:
    with pytest.raises(TimezoneError, match=message.replace("+", r"\+").replace(".", r"\.")):
        resolve_timezone(value)  # type: ignore[arg-type]
