"""Scheduled functions: intervals, cron expressions and timestamps, in any time zone.

Decorators (:mod:`.decorators`): ``schedule`` (alias ``scheduler``), ``heartbeat`` (alias
``every_second``), ``minutely``, ``hourly``, ``daily``, ``monthly``. The user guide is
``docs/schedule.md``.

Modules: :mod:`.declaration` (what a decorator records), :mod:`.triggers` (what an interval or
timestamp means), :mod:`.cron` (the cron dialect and DST rule), :mod:`.timezones` and
:mod:`.transport` (the scheduler); import their names from them. The clocks (the real one and
the manual one for tests) live in :mod:`tomodachi.clock`, as brokers use them too;
``ManualClock`` and ``use_clock`` are also here, where ``docs/schedule.md`` shows them.
"""

from __future__ import annotations

from tomodachi.clock import ManualClock, use_clock
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
from tomodachi.transport.schedule.transport import ScheduleTransport

__all__ = [
    "ManualClock",
    "ScheduleDeclaration",
    "ScheduleTransport",
    "daily",
    "every_second",
    "heartbeat",
    "hourly",
    "minutely",
    "monthly",
    "schedule",
    "scheduler",
    "use_clock",
]
