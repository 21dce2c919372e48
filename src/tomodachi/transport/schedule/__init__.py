"""Scheduled functions: intervals, cron expressions and timestamps, in any time zone.

Decorators (:mod:`.decorators`): ``schedule`` (alias ``scheduler``), ``heartbeat`` (alias
``every_second``), ``minutely``, ``hourly``, ``daily``, ``monthly``. The user guide is
``docs/schedule.md``.

Modules: :mod:`.declaration` (what a decorator records), :mod:`.triggers` (what an interval or
timestamp means), :mod:`.cron` (the cron dialect and DST rule), :mod:`.timezones` and
:mod:`.transport` (the scheduler). The clocks (the real one and the manual one for tests) live
in :mod:`tomodachi.clock`, as brokers use them too; they are re-exported here.
"""

from __future__ import annotations

from tomodachi.clock import (
    SYSTEM_CLOCK,
    Clock,
    ManualClock,
    SystemClock,
    get_clock,
    use_clock,
)
from tomodachi.transport.schedule.cron import CronError, CronSchedule, next_fire, parse_cron
from tomodachi.transport.schedule.declaration import ScheduleDeclaration
from tomodachi.transport.schedule.decorators import (
    daily,
    every_second,
    heartbeat,
    hourly,
    minutely,
    monthly,
    schedule,
    scheduler,
)
from tomodachi.transport.schedule.timezones import TimezoneError, local_timezone, resolve_timezone
from tomodachi.transport.schedule.transport import INJECTED_KEYWORDS, ScheduleTransport
from tomodachi.transport.schedule.triggers import (
    ALIASES,
    CronTrigger,
    IntervalTrigger,
    Trigger,
    TriggerError,
    make_trigger,
)

__all__ = [
    "ALIASES",
    "INJECTED_KEYWORDS",
    "SYSTEM_CLOCK",
    "Clock",
    "CronError",
    "CronSchedule",
    "CronTrigger",
    "IntervalTrigger",
    "ManualClock",
    "ScheduleDeclaration",
    "ScheduleTransport",
    "SystemClock",
    "TimezoneError",
    "Trigger",
    "TriggerError",
    "daily",
    "every_second",
    "get_clock",
    "heartbeat",
    "hourly",
    "local_timezone",
    "make_trigger",
    "minutely",
    "monthly",
    "next_fire",
    "parse_cron",
    "resolve_timezone",
    "schedule",
    "scheduler",
    "use_clock",
]
