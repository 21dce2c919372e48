"""The clocks: the manual clock tests drive, and the system clock's no-early-wake guarantee."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tomodachi.clock import (
    SYSTEM_CLOCK,
    Clock,
    ManualClock,
    SystemClock,
    get_clock,
    use_clock,
)
from tomodachi.runtime import Runtime

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_manual_clock_needs_an_aware_start_and_defaults_to_2024() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2024, 1, 1))
    assert ManualClock().now() == START
    assert isinstance(ManualClock(), Clock) and isinstance(SYSTEM_CLOCK, Clock)


async def test_advance_wakes_sleepers_exactly_at_their_deadlines_in_order() -> None:
    clock = ManualClock(START)
    woke: list[tuple[str, datetime, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now(), clock.monotonic()))

    tasks = [asyncio.ensure_future(sleeper("five", 5)), asyncio.ensure_future(sleeper("three", 3))]
    await clock.settle()
    assert clock.sleepers == 2
    assert clock.next_wakeup() == START + timedelta(seconds=3)
    await clock.advance(4)
    assert woke == [("three", START + timedelta(seconds=3), 3.0)]
    assert clock.now() == START + timedelta(seconds=4)
    await clock.advance(timedelta(seconds=10))
    assert woke[1] == ("five", START + timedelta(seconds=5), 5.0)
    assert clock.now() == START + timedelta(seconds=14) and clock.monotonic() == 14.0
    await asyncio.gather(*tasks)


async def test_jump_wakes_everything_due_at_once_late() -> None:
    clock = ManualClock(START)
    woke: list[datetime] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.now())

    tasks = [asyncio.ensure_future(sleeper(s)) for s in (1, 2, 30)]
    await clock.settle()
    await clock.jump(10)
    assert woke == [START + timedelta(seconds=10)] * 2
    await clock.advance_to(START + timedelta(seconds=30))
    assert woke[-1] == START + timedelta(seconds=30)
    await asyncio.gather(*tasks)


async def test_cancelled_sleepers_are_skipped_and_past_deadlines_return_at_once() -> None:
    clock = ManualClock(START)
    task = asyncio.ensure_future(clock.sleep(5))
    await clock.settle()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert clock.sleepers == 0 and clock.next_wakeup() is None
    await clock.advance(10)
    await asyncio.wait_for(clock.sleep_until(START), 1)
    with pytest.raises(ValueError, match="backwards"):
        await clock.advance(-1)


async def test_system_clock_never_returns_early(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loop whose timers fire early (coarse timer resolution) must not make the clock early.
    real_sleep = asyncio.sleep
    calls: list[float] = []

    async def early_sleep(delay: float) -> None:
        calls.append(delay)
        await real_sleep(delay / 2)

    monkeypatch.setattr(asyncio, "sleep", early_sleep)
    clock = SystemClock()
    target = clock.now() + timedelta(milliseconds=40)
    await clock.sleep_until(target)
    assert clock.now() >= target
    assert len(calls) >= 2


async def test_system_clock_splits_long_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    clock = SystemClock()
    clock.max_sleep = 0.01
    await clock.sleep_until(clock.now() + timedelta(milliseconds=35))
    assert max(delays) <= 0.01 and len(delays) >= 3


def test_clock_of_a_run() -> None:
    runtime = Runtime()
    assert get_clock(runtime) is SYSTEM_CLOCK
    manual = ManualClock()
    use_clock(runtime, manual)
    assert get_clock(runtime) is manual
    token = runtime.activate()
    try:
        assert get_clock() is manual
    finally:
        from tomodachi.runtime import _current

        _current.reset(token)


async def test_manual_clock_never_wakes_a_sleeper_early() -> None:
    # timedelta keeps microseconds: a sleep of a fraction of one is rounded up, not to the nearest.
    clock = ManualClock()
    start = clock.monotonic()
    for seconds in (0.1234567891, 1e-7, 2.0000004):
        sleeper = asyncio.create_task(clock.sleep(seconds))
        await asyncio.sleep(0)
        wakeup = clock.next_wakeup()
        assert wakeup is not None
        await clock.advance_to(wakeup)
        await sleeper
        assert clock.monotonic() - start >= seconds
        start = clock.monotonic()
