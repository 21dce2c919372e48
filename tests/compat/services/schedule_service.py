"""Scheduled functions in the original's forms: heartbeat bare and called, intervals as int and
str, cron, timestamps with a timezone, the alias decorators, injected keywords, sync functions
and a function that raises (logged, the schedule goes on)."""

import asyncio
import json
from typing import Any, Dict, List

import tomodachi
from tomodachi.transport.schedule import (
    daily,
    every_second,
    heartbeat,
    hourly,
    minutely,
    monthly,
    schedule,
    scheduler,
)


class SchedulerService(tomodachi.Service):
    name = "compat_schedule"
    calls: Dict[str, List[Any]] = {}

    def record(self, name: str, *values: Any) -> None:
        self.calls.setdefault(name, []).append(list(values))

    @heartbeat
    async def every_heartbeat(self) -> None:
        self.record("heartbeat")

    @heartbeat()
    async def every_heartbeat_called(self) -> None:
        self.record("heartbeat()")

    @every_second
    def every_second_sync(self) -> None:
        self.record("every_second")

    @schedule(interval=1, immediately=True)
    async def int_interval(self, invocation_time: str = "", interval: Any = None) -> None:
        self.record("interval=1", invocation_time, interval)

    @scheduler(interval="1 seconds")
    async def str_interval(self, *, interval: Any = None) -> None:
        self.record("interval='1 seconds'", interval)

    @schedule(interval="every second")
    async def positional(self, invocation_time: str) -> None:
        # the original raised IndexError on every call of this; docs/schedule.md: it works here
        self.record("positional", invocation_time)

    @schedule(interval=1)
    async def failing(self) -> None:
        self.record("failing")
        raise Exception("scheduled function failed")

    @schedule(interval="* * * * *")
    async def cron(self) -> None:
        pass

    @schedule(timestamp="23:59:59", timezone="Europe/Stockholm")
    async def nightly(self) -> None:
        pass

    @schedule(timestamp="2099-12-31 23:59:59", timezone="GMT +01:00")
    async def far_future(self) -> None:
        pass

    @schedule(interval="weekdays", timezone="UTC")
    async def weekdays(self) -> None:
        pass

    @minutely
    async def every_minute(self) -> None:
        pass

    @hourly
    async def every_hour(self) -> None:
        pass

    @daily
    async def every_day(self) -> None:
        pass

    @monthly
    async def every_month(self) -> None:
        pass

    async def _started_service(self) -> None:
        async def _stop_later() -> None:
            await asyncio.sleep(2.3)
            print("COMPAT " + json.dumps({"event": "calls", "calls": self.calls}), flush=True)
            tomodachi.exit()

        asyncio.ensure_future(_stop_later())
