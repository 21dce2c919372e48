"""The scheduler, driven by a ManualClock: lifecycle, overlap, catch-up, errors, stop, DST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tomodachi
from tomodachi.container import ServiceContainer, StartupError
from tomodachi.runtime import Runtime
from tomodachi.transport.schedule import ManualClock, use_clock

Logs = Callable[[], list[dict[str, Any]]]
OnClock = Callable[..., Any]
START = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def messages(logs: Logs, text: str) -> list[dict[str, Any]]:
    return [record for record in logs() if text in record.get("message", "")]


# -- lifecycle ---------------------------------------------------------------------------------
async def test_lifecycle_order_and_invocations_only_after_started_service() -> None:
    events: list[str] = []
    clock_ref: list[ManualClock] = []

    class Ordered(tomodachi.Service):
        name = "ordered"

        async def _start_service(self) -> None:
            events.append("_start_service")

        async def _started_service(self) -> None:
            events.append("_started_service:begin")
            await clock_ref[0].sleep(5)  # time passes; nothing may run yet
            events.append("_started_service:end")

        @tomodachi.heartbeat
        async def beat(self, invocation_time: str) -> None:
            events.append(f"beat {invocation_time}")

        async def _stopping_service(self) -> None:
            events.append("_stopping_service")

        async def _stop_service(self) -> None:
            events.append("_stop_service")

    runtime = Runtime()
    runtime.activate()
    clock = ManualClock(START)
    clock_ref.append(clock)
    use_clock(runtime, clock)
    container = ServiceContainer([Ordered], runtime)
    await container.setup()
    starting = asyncio.ensure_future(container.start())
    await clock.advance(5)
    await starting
    assert events == ["_start_service", "_started_service:begin", "_started_service:end"]
    await clock.advance(3)
    await container.stop()
    assert events == [
        "_start_service",
        "_started_service:begin",
        "_started_service:end",
        "beat 2024-01-01T00:00:06Z",
        "beat 2024-01-01T00:00:07Z",
        "beat 2024-01-01T00:00:08Z",
        "_stopping_service",
        "_stop_service",
    ]


async def test_heartbeat_runs_on_time_every_second(on_clock: OnClock) -> None:
    seen: list[tuple[datetime, datetime, str, Any]] = []

    class Beat(tomodachi.Service):
        name = "beat"

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime, invocation_time: str, interval: Any) -> None:
            seen.append((running.clock.now(), scheduled_time, invocation_time, interval))

    async with on_clock(Beat) as running:
        await running.clock.advance(10)
        assert running.transport.ready
    assert [s[1] for s in seen] == [at(i) for i in range(1, 11)]
    assert all(now == due for now, due, _, _ in seen)  # no lateness on a manual clock
    assert seen[0][2] == "2024-01-01T00:00:01Z"
    assert {s[3] for s in seen} == {1}


async def test_immediately_runs_once_at_start_then_on_schedule(on_clock: OnClock) -> None:
    calls: list[str] = []

    class Now(tomodachi.Service):
        name = "now"

        @tomodachi.schedule(interval="hourly", timezone="UTC", immediately=True)
        async def job(self, invocation_time: str) -> None:
            calls.append(invocation_time)

    async with on_clock(Now, start=START + timedelta(minutes=59)) as running:
        assert calls == ["2024-01-01T00:59:00Z"]
        await running.clock.advance(timedelta(hours=2))
    assert calls == ["2024-01-01T00:59:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]


async def test_aliases_and_cron_on_the_wall_clock(on_clock: OnClock) -> None:
    calls: dict[str, list[datetime]] = {"minutely": [], "hourly": [], "daily": [], "monthly": [], "cron": []}

    class Many(tomodachi.Service):
        name = "many"

        @tomodachi.minutely(timezone="UTC")
        async def m(self, scheduled_time: datetime) -> None:
            calls["minutely"].append(scheduled_time)

        @tomodachi.hourly(timezone="UTC")
        async def h(self, scheduled_time: datetime) -> None:
            calls["hourly"].append(scheduled_time)

        @tomodachi.daily(timezone="UTC")
        async def d(self, scheduled_time: datetime) -> None:
            calls["daily"].append(scheduled_time)

        @tomodachi.monthly(timezone="UTC")
        async def mo(self, scheduled_time: datetime) -> None:
            calls["monthly"].append(scheduled_time)

        @tomodachi.schedule("*/20 9-10 * * mon-fri", timezone="UTC")
        async def c(self, scheduled_time: datetime) -> None:
            calls["cron"].append(scheduled_time)

    async with on_clock(Many, start=datetime(2024, 1, 30, 23, 0, 30, tzinfo=UTC)) as running:
        await running.clock.advance(timedelta(days=2))
    assert len(calls["minutely"]) == 48 * 60
    assert len(calls["hourly"]) == 48
    assert calls["daily"] == [datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)]
    assert calls["monthly"] == [datetime(2024, 2, 1, tzinfo=UTC)]
    # Wednesday 31st and Thursday 1st: 09:00, 09:20, 09:40, 10:00, 10:20, 10:40.
    assert len(calls["cron"]) == 12
    assert calls["cron"][0] == datetime(2024, 1, 31, 9, 0, tzinfo=UTC)


async def test_daily_job_across_dst_changes_runs_once_per_day(on_clock: OnClock) -> None:
    calls: list[datetime] = []

    class Dst(tomodachi.Service):
        name = "dst"

        @tomodachi.schedule(timestamp="02:30", timezone="Europe/Stockholm")
        async def job(self, scheduled_time: datetime) -> None:
            calls.append(scheduled_time)

    async with on_clock(Dst, start=datetime(2024, 3, 30, 12, tzinfo=UTC)) as running:
        await running.clock.advance(timedelta(days=3))
    # 02:30 CET, then 03:00 CEST (02:30 does not exist on the 31st), then 02:30 CEST.
    assert calls == [
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        datetime(2024, 4, 1, 0, 30, tzinfo=UTC),
        datetime(2024, 4, 2, 0, 30, tzinfo=UTC),
    ]
    calls.clear()
    async with on_clock(Dst, start=datetime(2024, 10, 26, 12, tzinfo=UTC)) as running:
        await running.clock.advance(timedelta(days=2))
    # 02:30 happens twice on the 27th: the job runs at the first (CEST) one only.
    assert calls == [datetime(2024, 10, 27, 0, 30, tzinfo=UTC), datetime(2024, 10, 28, 1, 30, tzinfo=UTC)]


async def test_one_shot_timestamps(on_clock: OnClock, logs: Logs) -> None:
    calls: list[datetime] = []

    class Once(tomodachi.Service):
        name = "once"

        @tomodachi.schedule(timestamp="2024-01-01 00:00:10", timezone="UTC")
        async def future(self, scheduled_time: datetime) -> None:
            calls.append(scheduled_time)

        @tomodachi.schedule(timestamp="2023-12-31 23:00", timezone="UTC")
        async def past(self) -> None:
            calls.append(START)

    async with on_clock(Once) as running:
        await running.clock.advance(60)
    assert calls == [at(10)]
    [never] = messages(logs, "has no future due time")
    assert never["handler"] == "past" and never["level"] == "warning"


# -- injection ---------------------------------------------------------------------------------
async def test_handlers_take_the_keywords_positionally_or_not(on_clock: OnClock) -> None:
    got: dict[str, Any] = {}

    class Kinds(tomodachi.Service):
        name = "kinds"

        @tomodachi.schedule(interval=5)
        async def positional(self, invocation_time, interval):  # type: ignore[no-untyped-def]
            got["positional"] = (invocation_time, interval)

        @tomodachi.schedule(interval=5)
        async def positional_only(self, interval: Any, /) -> None:
            got["positional_only"] = interval

        @tomodachi.schedule(interval=5)
        async def keyword_only(self, *, invocation_time: str, other: int = 3) -> None:
            got["keyword_only"] = (invocation_time, other)

        @tomodachi.schedule(interval=5)
        async def nothing(self) -> None:
            got["nothing"] = True

        @tomodachi.schedule(interval=5)
        async def var_kw(self, **kwargs: Any) -> None:
            got["var_kw"] = sorted(kwargs)

        @tomodachi.schedule(interval=5)
        def sync(self, interval: int) -> None:
            got["sync"] = interval

    async with on_clock(Kinds) as running:
        await running.clock.advance(5)
    assert got == {
        "positional": ("2024-01-01T00:00:05Z", 5),
        "positional_only": 5,
        "keyword_only": ("2024-01-01T00:00:05Z", 3),
        "nothing": True,
        "var_kw": ["interval", "invocation_time", "scheduled_time"],
        "sync": 5,
    }


async def test_context_logger_is_bound_to_the_handler(on_clock: OnClock, logs: Logs) -> None:
    class Logged(tomodachi.Service):
        name = "logged"

        @tomodachi.heartbeat
        async def beat(self) -> None:
            tomodachi.get_logger().info("inside")

    async with on_clock(Logged) as running:
        await running.clock.advance(1)
    [record] = messages(logs, "inside")
    assert record["logger"] == "tomodachi.schedule.handler"
    assert record["handler"] == "beat" and record["type"] == "tomodachi.schedule"


# -- overlap, catch-up, errors -----------------------------------------------------------------
async def test_no_overlap_by_default_skips_with_a_warning(on_clock: OnClock, logs: Logs) -> None:
    started: list[datetime] = []

    class Slow(tomodachi.Service):
        name = "slow"
        options = tomodachi.Options(**{"http.termination_grace_period_seconds": 0.01})

        @tomodachi.heartbeat
        async def slow(self, scheduled_time: datetime) -> None:
            started.append(scheduled_time)
            await running.clock.sleep(2.5)

    async with on_clock(Slow) as running:
        await running.clock.advance(10)
    assert started == [at(1), at(4), at(7), at(10)]
    skipped = messages(logs, "still running: skipped this invocation")
    assert [r["scheduled_time"] for r in skipped] == [f"2024-01-01T00:00:0{i}Z" for i in (2, 3, 5, 6, 8, 9)]
    assert all(r["handler"] == "slow" and r["level"] == "warning" for r in skipped)


async def test_max_concurrent_allows_n_runs_at_once(on_clock: OnClock, logs: Logs) -> None:
    active: list[int] = [0, 0]  # current, peak
    started: list[datetime] = []

    class Parallel(tomodachi.Service):
        name = "parallel"
        options = tomodachi.Options(**{"http.termination_grace_period_seconds": 0.01})

        @tomodachi.heartbeat(max_concurrent=3)
        async def work(self, scheduled_time: datetime) -> None:
            started.append(scheduled_time)
            active[0] += 1
            active[1] = max(active)
            try:
                await running.clock.sleep(3.5)
            finally:
                active[0] -= 1

    async with on_clock(Parallel) as running:
        await running.clock.advance(8)
    assert active[1] == 3
    # 1, 2, 3 run; at 4 three are running (1 ends at 4.5); 5 starts after 1 ended; ...
    assert started == [at(1), at(2), at(3), at(5), at(6), at(7)]
    assert len(messages(logs, "still running: skipped")) == 2


async def test_blocked_loop_runs_once_late_then_continues_on_schedule(on_clock: OnClock, logs: Logs) -> None:
    calls: list[tuple[datetime, datetime]] = []

    class Late(tomodachi.Service):
        name = "late"

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime) -> None:
            calls.append((running.clock.now(), scheduled_time))

        @tomodachi.minutely(timezone="UTC")
        async def minute(self, scheduled_time: datetime) -> None:
            calls.append((running.clock.now(), scheduled_time))

    async with on_clock(Late) as running:
        await running.clock.advance(2)
        await running.clock.jump(timedelta(minutes=5, seconds=0.5))  # the loop was blocked
        await running.clock.advance(2)
    now_after_jump = at(302.5)
    assert calls == [
        (at(1), at(1)),
        (at(2), at(2)),
        (now_after_jump, at(3)),  # heartbeat: once, late, for the first missed due time
        (now_after_jump, at(60)),  # minutely: once, late
        (at(303), at(303)),  # then on the grid again
        (at(304), at(304)),
    ]
    late = messages(logs, "ran late")
    assert {r["handler"] for r in late} == {"beat", "minute"}


async def test_exceptions_are_logged_and_the_schedule_continues(on_clock: OnClock, logs: Logs) -> None:
    calls: list[int] = []

    class Failing(tomodachi.Service):
        name = "failing"

        @tomodachi.heartbeat
        async def fails(self) -> None:
            calls.append(1)
            raise RuntimeError("database is down")

    async with on_clock(Failing) as running:
        await running.clock.advance(3)
    assert len(calls) == 3
    errors = messages(logs, "uncaught exception in scheduled function")
    assert len(errors) == 3
    assert errors[0]["handler"] == "fails" and errors[0]["level"] == "error"
    assert errors[0]["exc_type"] == "RuntimeError" and errors[0]["exc_message"] == "database is down"


# -- stop ----------------------------------------------------------------------------------------
async def test_no_invocations_after_the_stop_signal(on_clock: OnClock) -> None:
    calls: list[datetime] = []

    class Beat(tomodachi.Service):
        name = "beat"

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime) -> None:
            calls.append(scheduled_time)

    async with on_clock(Beat) as running:
        await running.clock.advance(2)
        running.runtime.request_stop("test")
        await running.clock.advance(5)
    assert calls == [at(1), at(2)]


async def test_stop_lets_running_invocations_finish_within_the_grace_period(
    on_clock: OnClock, logs: Logs
) -> None:
    events: list[str] = []

    class Finishing(tomodachi.Service):
        name = "finishing"
        options = tomodachi.Options(**{"http.termination_grace_period_seconds": 5})

        @tomodachi.heartbeat
        async def work(self) -> None:
            events.append("work:start")
            await asyncio.sleep(0.05)  # real time: the drain waits for it
            events.append("work:end")

        async def _stop_service(self) -> None:
            events.append("_stop_service")

    async with on_clock(Finishing) as running:
        await running.clock.advance(1)
        assert events == ["work:start"]
    assert events == ["work:start", "work:end", "_stop_service"]
    assert not messages(logs, "cancelled scheduled functions")


@pytest.mark.parametrize(
    "grace_key",
    ["http.termination_grace_period_seconds", "termination_grace_period_seconds"],  # original, neutral
)
async def test_stop_cancels_what_outlives_the_grace_period_with_one_warning(
    on_clock: OnClock, logs: Logs, grace_key: str
) -> None:
    events: list[str] = []

    class Stuck(tomodachi.Service):
        name = "stuck"
        options = tomodachi.Options(**{grace_key: 0.1})

        @tomodachi.heartbeat(max_concurrent=2)
        async def stuck(self) -> None:
            events.append("stuck:start")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                events.append("stuck:cancelled")
                raise

        async def _stop_service(self) -> None:
            events.append("_stop_service")

    loop = asyncio.get_running_loop()
    async with on_clock(Stuck) as running:
        await running.clock.advance(2)
        began = loop.time()
    assert loop.time() - began < 5
    assert events == ["stuck:start", "stuck:start", "stuck:cancelled", "stuck:cancelled", "_stop_service"]
    [warning] = messages(logs, "cancelled scheduled functions still running at the end of the grace period")
    assert warning["handlers"] == ["stuck"]
    assert warning["cancelled_invocations"] == 2
    assert warning["termination_grace_period_seconds"] == 0.1


async def test_transport_introspection_and_decorated_methods_stay_callable(on_clock: OnClock) -> None:
    class Plain(tomodachi.Service):
        name = "plain"

        @tomodachi.schedule(interval="*/5 * * * *", timezone="UTC")
        @tomodachi.heartbeat
        async def both(self, interval: Any = None) -> str:
            return f"called with {interval}"

    async with on_clock(Plain) as running:
        assert await running.service.both() == "called with None"
        assert running.transport.triggers() == [
            ("both", "every 1s"),
            ("both", "cron '*/5 * * * *' (UTC)"),
        ]


# -- bad input ----------------------------------------------------------------------------------
def _bad(**kwargs: Any) -> type[tomodachi.Service]:
    class Bad(tomodachi.Service):
        name = "bad"

        @tomodachi.schedule(**kwargs)
        async def tick(self) -> None:
            pass

    return Bad


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": "61 * * * *"}, "invalid cron expression '61 * * * *': minute 61 is out of range 0-59"),
        ({"interval": "5 fortnights"}, "invalid interval '5 fortnights'"),
        ({"interval": -1}, "invalid interval -1"),
        ({"timestamp": "25:61"}, "invalid timestamp '25:61'"),
        ({"interval": 1, "timezone": "Moon/Base"}, "unknown timezone 'Moon/Base'"),
        ({"interval": 1, "max_concurrent": 0}, "invalid max_concurrent 0"),
        ({"interval": 1, "immediately": "yes"}, "invalid immediately 'yes'"),
        ({}, "no interval or timestamp given"),
    ],
)
async def test_bad_input_fails_setup_with_one_line_naming_handler_and_value(
    kwargs: dict[str, Any], message: str
) -> None:
    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer([_bad(**kwargs)], runtime, source="svc.py")
    with pytest.raises(StartupError) as info:
        await container.setup()
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("svc.py: bad: scheduled function 'tick': ")
    assert message in text
    await container.stop()


async def test_required_parameter_that_cannot_be_filled_fails_setup() -> None:
    class NeedsMore(tomodachi.Service):
        name = "needs-more"

        @tomodachi.heartbeat
        async def beat(self, invocation_time: str, database: Any) -> None:
            pass

    runtime = Runtime()
    runtime.activate()
    with pytest.raises(StartupError, match="scheduled function 'beat': required parameter 'database'"):
        await ServiceContainer([NeedsMore], runtime).setup()
