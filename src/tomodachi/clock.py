"""The clocks schedulers and in-memory brokers read and sleep on: the system clock and a manual one.

A :class:`Clock` answers two questions: *what time is it* (:meth:`Clock.now`, an aware UTC
``datetime``; :meth:`Clock.monotonic`, seconds that never go backwards) and *wake me at this
time* (:meth:`Clock.sleep_until`). The scheduler only uses these, so a test can swap in a
:class:`ManualClock` and move time forward by hours in a few milliseconds::

    clock = ManualClock(datetime(2024, 3, 31, 0, 0, tzinfo=UTC))
    use_clock(runtime, clock)        # before the service container is set up
    ...
    await clock.advance(3600)        # one hour, stopping at every scheduled wake-up

The clock of a run is ``runtime.clock`` (see :func:`use_clock` / :func:`get_clock`);
without one, the :data:`SYSTEM_CLOCK` is used.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock", "get_clock", "use_clock"]


@runtime_checkable
class Clock(Protocol):
    """What a scheduler needs from time."""

    def now(self) -> datetime:
        """The current wall-clock time as an aware UTC ``datetime``."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once :meth:`now` is at or after *when* (at once if it already is)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for *seconds* of this clock's time."""
        ...


class SystemClock:
    """The real clock: ``datetime.now(UTC)`` and the event loop's timers.

    :meth:`sleep_until` arms a loop timer for the delay (no polling), then checks the wall clock
    again: it never returns early, even when the loop's timer resolution is coarser than the
    delay (uvloop rounds to milliseconds). Two details keep it punctual:

    - the kernel may deliver a long wait late by 0.1% of its length (Linux timer slack for
      ``epoll_wait``: 1 ms on a 1 s sleep), so a long sleep stops a few milliseconds early and
      the rest is a short, precise wait;
    - sleeps are split into chunks of at most :attr:`max_sleep` seconds so that a wall-clock
      step (NTP, a suspended machine) is noticed.
    """

    #: The longest single timer, in seconds; one wake-up a minute costs nothing measurable.
    max_sleep: float = 60.0
    #: Waits longer than this (seconds) end with a separate short wait of about this length.
    precise_window: float = 0.01

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, when: datetime) -> None:
        window = self.precise_window
        while True:
            remaining = (when - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                return
            if remaining > window:
                early = max(window / 2, remaining * 0.002)  # more than the kernel's 0.1% slack
                await asyncio.sleep(min(remaining - early, self.max_sleep))
            else:
                await asyncio.sleep(remaining)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: The process-wide real clock (it has no state).
SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that only moves when told to, for tests.

    Time starts at *start* (default 2024-01-01 00:00 UTC). Coroutines sleeping on the clock
    (the scheduler, and handlers that call :meth:`sleep`) are woken by :meth:`advance`, which
    stops at each of their deadlines in order, or by :meth:`jump`, which moves time at once as
    if the event loop had been blocked. After each wake-up the event loop is given
    *settle_rounds* turns so that the woken tasks (and the tasks they start) run until they
    block again.
    """

    def __init__(self, start: datetime | None = None, *, settle_rounds: int = 50) -> None:
        if start is None:
            start = datetime(2024, 1, 1, tzinfo=UTC)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("ManualClock needs an aware start datetime (e.g. tzinfo=UTC)")
        self._now = start.astimezone(UTC)
        self._monotonic = 0.0
        self._settle_rounds = settle_rounds
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    # -- Clock ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._counter), future))
        await future  # a cancelled sleeper is skipped when its time comes

    async def sleep(self, seconds: float) -> None:
        # Rounded up to the microsecond (timedelta's resolution): never wakes before *seconds*.
        micro = max(math.ceil(seconds * 1_000_000 - 1e-6), 0)
        await self.sleep_until(self._now + timedelta(microseconds=micro))

    # -- control -------------------------------------------------------------------------
    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    def next_wakeup(self) -> datetime | None:
        """The earliest deadline of a sleeping coroutine, if any."""
        self._discard_done()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by *seconds*, waking every sleeper exactly at its deadline."""
        target = self._now + _delta(seconds)
        await self.settle()
        while True:
            self._discard_done()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            self._set(max(self._sleepers[0][0], self._now))
            self._wake_due()
            await self.settle()
        self._set(target)
        await self.settle()

    async def advance_to(self, when: datetime) -> None:
        """Like :meth:`advance`, up to the absolute time *when*."""
        await self.advance(max(when - self._now, timedelta(0)))

    async def jump(self, seconds: float | timedelta) -> None:
        """Move time forward at once; sleepers due on the way wake together, late.

        This is what a scheduler sees when the event loop was blocked (or the machine was
        suspended) for *seconds*.
        """
        self._set(self._now + _delta(seconds))
        self._wake_due()
        await self.settle()

    async def settle(self) -> None:
        """Give the event loop *settle_rounds* turns without moving time."""
        for _ in range(self._settle_rounds):
            await asyncio.sleep(0)

    # -- internals -----------------------------------------------------------------------
    def _set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("ManualClock cannot go backwards")
        self._monotonic += (when - self._now).total_seconds()
        self._now = when

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _discard_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"


def _delta(seconds: float | timedelta) -> timedelta:
    delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
    if delta < timedelta(0):
        raise ValueError("ManualClock cannot go backwards")
    return delta


def use_clock(runtime: Runtime, clock: Clock) -> None:
    """Make *clock* the clock of every scheduler of *runtime* (set it before the services start)."""
    runtime.clock = clock


def get_clock(runtime: Runtime | None = None) -> Clock:
    """The clock of *runtime* (default: the current run), or :data:`SYSTEM_CLOCK`."""
    if runtime is None:
        from tomodachi.runtime import current_runtime

        runtime = current_runtime()
    if runtime is not None and runtime.clock is not None:
        return runtime.clock
    return SYSTEM_CLOCK
