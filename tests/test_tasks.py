"""tomodachi.tasks: TaskTracker, gather_or_cancel, and the two trackers of a Transport."""

from __future__ import annotations

import asyncio

import pytest

import tomodachi
from tomodachi.runtime import Runtime
from tomodachi.tasks import TaskTracker, gather_or_cancel


async def test_drain_waits_then_cancels_and_names_what_it_cancelled() -> None:
    tracker = TaskTracker()
    finished: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    tracker.spawn(work("fast", 0), name="fast")
    tracker.spawn(work("slow", 10), name="slow")
    assert len(tracker) == 2
    assert await tracker.drain(0.05) == ["slow"]
    assert finished == ["fast"]
    assert len(tracker) == 0
    assert await tracker.drain(1) == []


async def test_cancel_all_cancels_at_once() -> None:
    tracker = TaskTracker()
    task = tracker.spawn(asyncio.sleep(10), name="sleeper")
    assert await tracker.cancel_all() == ["sleeper"]
    assert task.cancelled()
    assert await tracker.cancel_all() == []


async def test_gather_or_cancel_leaves_nothing_running() -> None:
    other_cancelled = asyncio.Event()

    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def wait() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            other_cancelled.set()
            raise

    with pytest.raises(ValueError, match="boom"):
        await gather_or_cancel(fail(), wait())
    assert other_cancelled.is_set()
    assert await gather_or_cancel(asyncio.sleep(0, "a"), asyncio.sleep(0, "b")) == ["a", "b"]


class _Service(tomodachi.Service):
    name = "tasks"
    options = tomodachi.Options(termination_grace_period_seconds=5)


async def test_transport_stop_cancels_intake_first_then_drains_in_flight_work() -> None:
    transport = tomodachi.Transport(_Service(), Runtime())
    events: list[str] = []

    async def intake() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("intake cancelled")
            raise

    async def handler() -> None:
        await asyncio.sleep(0.05)
        events.append("handler finished")

    transport.intake.spawn(intake())
    transport.tasks.spawn(handler())
    await asyncio.sleep(0)
    await transport.stop()
    assert events == ["intake cancelled", "handler finished"]


async def test_transport_close_cancels_what_is_left() -> None:
    transport = tomodachi.Transport(_Service(), Runtime())
    loop = transport.intake.spawn(asyncio.sleep(10))
    work = transport.tasks.spawn(asyncio.sleep(10))
    await transport.close()
    assert loop.cancelled() and work.cancelled()
