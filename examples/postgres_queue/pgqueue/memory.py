"""The in-memory store: the same transport, with jobs in a dict shared by the services of a run.

It models what the transport relies on, nothing more: runnable-at times, one claimant per job,
lock expiry, dead jobs, wake-ups on enqueue. ``jobs.available = False`` makes every call raise
:class:`~.store.StoreUnavailable`, to test what a database outage does to a service.

Time is the run's clock (``tomodachi.clock.get_clock(runtime)``): with
``run_services(..., clock=ManualClock())`` delays, retry delays and lock expiry follow the
manual clock, so a test of a long backoff takes no real time.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from tomodachi.clock import SYSTEM_CLOCK, Clock

from .store import Job, StoreUnavailable

__all__ = ["MemoryDatabase", "MemoryJobStore", "MemoryJobs"]


@dataclass(slots=True)
class _Row:
    id: int
    queue: str
    payload: str
    run_at: float
    attempts: int = 0
    state: str = "ready"  # ready | running | dead
    locked_until: float = 0.0
    last_error: str | None = None

    def job(self) -> Job:
        return Job(self.id, self.queue, self.payload, self.attempts, self.last_error)


class MemoryDatabase:
    """The family's in-memory model for a run (``memory_model``): one :class:`MemoryJobs` per table.

    *clock* is the run's clock (default the system clock).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.tables: dict[str, MemoryJobs] = {}

    def table(self, name: str) -> MemoryJobs:
        if name not in self.tables:
            self.tables[name] = MemoryJobs(self.clock)
        return self.tables[name]


class MemoryJobs:
    """The jobs of one table, shared by every service of the run."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.rows: dict[int, _Row] = {}
        self.available = True
        self._ids = itertools.count(1)
        self.waiters: set[asyncio.Event] = set()

    def now(self) -> float:
        """Seconds on the run's clock (monotonic): what ``run_at`` and ``locked_until`` are in."""
        return self.clock.monotonic()

    def check(self) -> None:
        if not self.available:
            raise StoreUnavailable("the in-memory job store is unavailable (jobs.available = False)")

    def add(self, queue: str, payload: str, delay: float) -> int:
        self.check()
        row = _Row(next(self._ids), queue, payload, self.now() + max(delay, 0.0))
        self.rows[row.id] = row
        self.wake()
        return row.id

    def wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()


class MemoryJobStore:
    """A :class:`~.store.JobStore` on :class:`MemoryJobs`."""

    def __init__(self, jobs: MemoryJobs) -> None:
        self.jobs = jobs
        self._wake = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.jobs.available

    async def connect(self) -> None:
        self.jobs.check()
        self.jobs.waiters.add(self._wake)

    async def enqueue(self, queue: str, payload: str, *, delay: float = 0.0) -> int:
        return self.jobs.add(queue, payload, delay)

    def _runnable(self, queues: Sequence[str]) -> list[_Row]:
        now = self.jobs.now()
        return sorted(
            (
                row
                for row in self.jobs.rows.values()
                if row.queue in queues
                and row.run_at <= now
                and (row.state == "ready" or (row.state == "running" and row.locked_until <= now))
            ),
            key=lambda row: (row.run_at, row.id),
        )

    async def claim(self, queues: Sequence[str], limit: int, *, lock_seconds: float) -> list[Job]:
        self.jobs.check()
        claimed = []
        for row in self._runnable(queues)[:limit]:
            row.state, row.locked_until = "running", self.jobs.now() + lock_seconds
            row.attempts += 1
            claimed.append(row.job())
        return claimed

    async def extend(self, jobs: Sequence[Job], *, lock_seconds: float) -> None:
        self.jobs.check()
        for job in jobs:
            row = self.jobs.rows.get(job.id)
            if row is not None and row.state == "running":
                row.locked_until = self.jobs.now() + lock_seconds

    async def next_due(self, queues: Sequence[str]) -> float | None:
        self.jobs.check()
        times = [
            row.run_at if row.state == "ready" else row.locked_until
            for row in self.jobs.rows.values()
            if row.queue in queues and row.state != "dead"
        ]
        return max(min(times) - self.jobs.now(), 0.0) if times else None

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline, not a cancel scope
        if not self._wake.is_set():
            # Whichever comes first: a wake-up, or *timeout* on the run's clock (a ManualClock
            # sees this sleeper, so a test moving the clock wakes the consumer for a due job).
            woken = asyncio.ensure_future(self._wake.wait())
            slept = asyncio.ensure_future(self.jobs.clock.sleep(_whole_microseconds(timeout)))
            try:
                await asyncio.wait((woken, slept), return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                slept.cancel()
                await asyncio.gather(woken, slept, return_exceptions=True)
        self._wake.clear()

    async def sleep(self, seconds: float) -> None:
        await self.jobs.clock.sleep(seconds)

    def _row(self, job: Job) -> _Row | None:
        self.jobs.check()
        return self.jobs.rows.get(job.id)

    async def complete(self, job: Job) -> None:
        if self._row(job) is not None:
            del self.jobs.rows[job.id]

    async def retry(self, job: Job, *, delay: float, error: str) -> None:
        row = self._row(job)
        if row is not None:
            row.state, row.run_at, row.last_error = "ready", self.jobs.now() + delay, error
            self.jobs.wake()  # the consumers work out their next wake-up again

    async def dead_letter(self, job: Job, *, error: str) -> None:
        row = self._row(job)
        if row is not None:
            row.state, row.last_error = "dead", error

    async def release(self, job: Job) -> None:
        row = self._row(job)
        if row is not None and row.state == "running":
            row.state, row.attempts, row.run_at = "ready", row.attempts - 1, self.jobs.now()
            self.jobs.wake()

    async def dead_jobs(self, queue: str) -> list[Job]:
        self.jobs.check()
        return [row.job() for row in self.jobs.rows.values() if row.queue == queue and row.state == "dead"]

    async def pending(self, queue: str) -> int:
        self.jobs.check()
        return sum(1 for row in self.jobs.rows.values() if row.queue == queue and row.state != "dead")

    async def close(self) -> None:
        self.jobs.waiters.discard(self._wake)


def _whole_microseconds(seconds: float) -> float:
    """*seconds* rounded up to the microsecond, and one more: a ManualClock moves in whole
    microseconds (``timedelta``), so a consumer sleeping until a job is due never wakes just
    before it (and then waits again)."""
    return (math.ceil(seconds * 1_000_000) + 1) / 1_000_000
