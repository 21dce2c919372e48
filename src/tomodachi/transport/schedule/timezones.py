"""Time zones for schedules: IANA names (``zoneinfo``), UTC offsets, and the local zone.

Accepted values for ``timezone=``:

- ``None`` (or ``"local"``): the machine's local zone, with its DST rules (``TZ``, then
  ``/etc/localtime``);
- an IANA name: ``"Europe/Stockholm"``, ``"America/New_York"``, ``"UTC"`` (case-insensitive);
- a fixed UTC offset, as the original accepted it: ``"+01:00"``, ``"+0100"``, ``"-5"``,
  ``"GMT +1"``, ``"GMT +01:00"``, ``"UTC-03:30"``, ``"00:00"``; from -12:00 to +14:00;
- a ``datetime.tzinfo`` object.

Names are looked up in the system's time zone database; where there is none (Windows, slim
containers) install the ``tzdata`` package.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["TimezoneError", "local_timezone", "resolve_timezone"]


class TimezoneError(ValueError):
    """An unknown time zone name or an invalid UTC offset."""


_OFFSET = re.compile(
    r"""^(?:(?P<prefix>gmt|utc)\s*)?
        (?:(?P<sign>[+-])\s*)?
        (?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$""",
    re.IGNORECASE | re.VERBOSE,
)
_UTC_NAMES = frozenset({"utc", "gmt", "z", "zulu", "etc/utc", "etc/gmt", "universal"})


def resolve_timezone(value: str | tzinfo | None) -> tzinfo:
    """The ``tzinfo`` for a ``timezone=`` value (see the module docs); raises :class:`TimezoneError`."""
    if value is None:
        return local_timezone()
    if isinstance(value, tzinfo):
        return value
    if not isinstance(value, str):
        raise TimezoneError(
            f"invalid timezone {value!r}: expected a name such as 'Europe/Stockholm' or '+01:00'"
        )
    text = value.strip()
    lowered = text.lower()
    if not text:
        raise TimezoneError("invalid timezone '': expected a name such as 'Europe/Stockholm' or '+01:00'")
    if lowered in ("local", "localtime"):
        return local_timezone()
    if lowered in _UTC_NAMES:
        return UTC
    offset = _parse_offset(text)
    if offset is not None:
        return offset
    zone = _zoneinfo(text)
    if zone is None:
        raise TimezoneError(
            f"unknown timezone {value!r}: expected an IANA name such as 'Europe/Stockholm' "
            "or an offset such as '+01:00'"
        )
    return zone


def _parse_offset(text: str) -> tzinfo | None:
    match = _OFFSET.match(text)
    if match is None:
        return None
    # A bare number is only an offset with a sign or a GMT/UTC prefix, or as "HH:MM".
    if not (match["sign"] or match["prefix"] or ":" in text):
        return None
    hours = int(match["hours"])
    minutes = int(match["minutes"] or 0)
    if minutes >= 60:
        raise TimezoneError(f"invalid timezone offset {text!r}: minutes must be below 60")
    delta = timedelta(hours=hours, minutes=minutes)
    if match["sign"] == "-":
        delta = -delta
    if not timedelta(hours=-12) <= delta <= timedelta(hours=14):
        raise TimezoneError(f"invalid timezone offset {text!r}: offsets range from -12:00 to +14:00")
    return UTC if not delta else timezone(delta)


def _zoneinfo(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    key = _lowercase_keys().get(name.lower())
    if key is None:
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # pragma: no cover - listed but unreadable
        return None


@functools.cache
def _lowercase_keys() -> dict[str, str]:
    # Only read on a miss: listing every zone walks the whole database.
    return {key.lower(): key for key in available_timezones()}


def local_timezone() -> tzinfo:
    """The local time zone with its DST rules (``TZ``, ``/etc/localtime``), else a fixed offset."""
    configured = os.environ.get("TZ", "").strip()
    if configured:
        name = configured[1:] if configured.startswith(":") else configured
        if name.startswith("/"):
            zone = _from_file(name)
        elif name.lower() in _UTC_NAMES:
            return UTC
        else:
            zone = _zoneinfo(name)
        if zone is not None:
            return zone
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:  # pragma: no cover - unusual file systems
        target = ""
    if "/zoneinfo/" in target:
        zone = _zoneinfo(target.split("/zoneinfo/", 1)[1])
        if zone is not None:
            return zone
    zone = _from_file("/etc/localtime")
    if zone is not None:
        return zone
    # No zone database: the current offset, without DST changes.
    return datetime.now().astimezone().tzinfo or UTC


def _from_file(path: str) -> ZoneInfo | None:
    try:
        with open(path, "rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return None
