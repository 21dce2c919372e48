"""The scheduling decorators. They only declare: values are checked when the service is set up.

::

    class Service(tomodachi.Service):
        @tomodachi.schedule(interval="5 minutes")
        async def refresh(self) -> None: ...

        @tomodachi.schedule(interval="0 8 * * mon-fri", timezone="Europe/Stockholm")
        async def morning_report(self, invocation_time: str) -> None: ...

        @tomodachi.schedule(timestamp="22:00", immediately=True)
        async def nightly(self) -> None: ...

        @tomodachi.heartbeat
        async def beat(self) -> None: ...

        @tomodachi.hourly(max_concurrent=2)
        async def sync(self) -> None: ...

A scheduled function may take the keywords ``invocation_time`` (the due time, ISO 8601 UTC
``"2024-01-31T08:00:00Z"``), ``scheduled_time`` (the same as an aware ``datetime``, to the
microsecond) and ``interval`` (the decorator's ``interval`` value), positionally or not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, tzinfo
from typing import Any, TypeVar, overload

from tomodachi._keywords import suggest_keywords
from tomodachi.transport.schedule.declaration import ScheduleDeclaration
from tomodachi.transport.schedule.transport import ScheduleTransport

__all__ = ["daily", "every_second", "heartbeat", "hourly", "minutely", "monthly", "schedule", "scheduler"]

F = TypeVar("F", bound=Callable[..., Any])


@suggest_keywords
def schedule(
    interval: int | float | str | timedelta | None = None,
    timestamp: str | None = None,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    *,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]:
    """Call the function on a schedule; give *interval* or *timestamp*.

    - *interval*: seconds (``30``), a duration (``"5 minutes"``, ``"1h 30m"``), an alias
      (``"hourly"``, ``"every day"``, ``"mondays"``, ``"weekdays"``...) or a cron expression
      (``"*/5 * * * *"``, ``"0 9 * * mon-fri"``, ``"@daily"``). Seconds and durations count
      from the start of the service; aliases and cron expressions follow the wall clock.
    - *timestamp*: ``"HH:MM[:SS]"`` every day, or ``"YYYY-MM-DD HH:MM[:SS]"`` once.
    - *timezone*: for cron expressions, aliases and timestamps: an IANA name
      (``"Europe/Stockholm"``) or an offset (``"+01:00"``, ``"GMT +1"``); default: local time.
    - *immediately*: also run once as soon as the service has started.
    - *max_concurrent*: how many runs of the function may overlap (default 1: a run that is due
      while the previous one is still going is skipped, with a warning).
    """
    if callable(interval) and not isinstance(interval, (int, float, str, timedelta)):
        raise TypeError(
            "@schedule needs arguments, e.g. @schedule(interval=30) or @schedule(timestamp='08:00'); "
            "@heartbeat, @minutely, @hourly, @daily and @monthly can be used without them"
        )
    return ScheduleTransport.decorator(
        ScheduleDeclaration(
            interval=interval,
            timestamp=timestamp,
            timezone=timezone,
            immediately=immediately,
            max_concurrent=max_concurrent,
            cluster=cluster,
        )
    )


#: The original's second name for :func:`schedule`.
scheduler = schedule


def _alias(
    interval: int | str,
    func: F | None,
    timezone: str | tzinfo | None,
    immediately: bool,
    max_concurrent: int,
    cluster: bool | str | None,
) -> Any:
    decorate: Callable[[F], F] = schedule(
        interval=interval,
        timezone=timezone,
        immediately=immediately,
        max_concurrent=max_concurrent,
        cluster=cluster,
    )
    return decorate(func) if func is not None else decorate


@overload
def heartbeat(func: F) -> F: ...
@overload
def heartbeat(
    func: None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]: ...
@suggest_keywords
def heartbeat(
    func: F | None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> F | Callable[[F], F]:
    """Call the function every second (``interval=1``); ``@heartbeat`` or ``@heartbeat(...)``."""
    return _alias(1, func, timezone, immediately, max_concurrent, cluster)  # type: ignore[no-any-return]


#: The same as :func:`heartbeat`.
every_second = heartbeat


@overload
def minutely(func: F) -> F: ...
@overload
def minutely(
    func: None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]: ...
@suggest_keywords
def minutely(
    func: F | None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> F | Callable[[F], F]:
    """Call the function at the start of every minute (``interval="minutely"``)."""
    return _alias("minutely", func, timezone, immediately, max_concurrent, cluster)  # type: ignore[no-any-return]


@overload
def hourly(func: F) -> F: ...
@overload
def hourly(
    func: None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]: ...
@suggest_keywords
def hourly(
    func: F | None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> F | Callable[[F], F]:
    """Call the function at minute 0 of every hour (``interval="hourly"``)."""
    return _alias("hourly", func, timezone, immediately, max_concurrent, cluster)  # type: ignore[no-any-return]


@overload
def daily(func: F) -> F: ...
@overload
def daily(
    func: None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]: ...
@suggest_keywords
def daily(
    func: F | None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> F | Callable[[F], F]:
    """Call the function at midnight every day, local time (``interval="daily"``)."""
    return _alias("daily", func, timezone, immediately, max_concurrent, cluster)  # type: ignore[no-any-return]


@overload
def monthly(func: F) -> F: ...
@overload
def monthly(
    func: None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> Callable[[F], F]: ...
@suggest_keywords
def monthly(
    func: F | None = None,
    *,
    timezone: str | tzinfo | None = None,
    immediately: bool = False,
    max_concurrent: int = 1,
    cluster: bool | str | None = None,
) -> F | Callable[[F], F]:
    """Call the function at midnight on the first day of every month (``interval="monthly"``)."""
    return _alias("monthly", func, timezone, immediately, max_concurrent, cluster)  # type: ignore[no-any-return]
