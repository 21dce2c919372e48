"""Where the jobs live: the small protocol the transport talks to, and one job.

The transport (``transport.py``) owns everything a service can observe: the claim loop, the
concurrency bound, settling by the handler's retry policy, readiness and the drain. A store
only keeps jobs (and so holds a retried job until its delay is over: ``run_at``): PostgreSQL
(``postgres.py``) or a dict in memory (``memory.py``). Both
raise :class:`StoreUnavailable` when the jobs cannot be reached; the transport then reports
"not ready" and reconnects with a backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Job", "JobStore", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store cannot be reached now (connection refused or lost); try again later."""


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed job."""

    id: int
    queue: str
    payload: str
    #: 1 on the first try (counted when the job is claimed, so a crash counts too).
    attempts: int
    #: Why the last try failed (dead jobs, retried jobs).
    last_error: str | None = None


class JobStore(Protocol):
    """A service's link to the jobs (one per transport; see the module docstring)."""

    @property
    def ready(self) -> bool:
        """Whether the store is reachable now (readiness)."""

    async def connect(self) -> None:
        """Connect, create the jobs table if asked to, listen for new jobs."""

    async def enqueue(self, queue: str, payload: str, *, delay: float = 0.0) -> int:
        """Add a job, runnable after *delay* seconds; returns its id and wakes the consumers."""

    async def claim(self, queues: Sequence[str], limit: int, *, lock_seconds: float) -> list[Job]:
        """Take up to *limit* runnable jobs (each for one consumer only) for *lock_seconds*.

        A job whose lock expired (its consumer died) is runnable again.
        """

    async def extend(self, jobs: Sequence[Job], *, lock_seconds: float) -> None:
        """Keep the claims on *jobs* (still running) for another *lock_seconds*."""

    async def next_due(self, queues: Sequence[str]) -> float | None:
        """Seconds until the next job of *queues* becomes runnable (0 when one is), or None."""

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline, not a cancel scope
        """Return when a job may have been enqueued, or after *timeout* seconds."""

    async def sleep(self, seconds: float) -> None:
        """Sleep on the store's time (the database's is real time; in memory, the run's clock)."""

    async def complete(self, job: Job) -> None:
        """The job was handled (or dropped by its retry policy): remove it."""

    async def retry(self, job: Job, *, delay: float, error: str) -> None:
        """Make the job runnable again after *delay* seconds."""

    async def dead_letter(self, job: Job, *, error: str) -> None:
        """Keep the job as dead (never run again), with the reason."""

    async def release(self, job: Job) -> None:
        """Give an unfinished job back at once, its attempt not counted (graceful stop)."""

    async def dead_jobs(self, queue: str) -> list[Job]:
        """The dead-lettered jobs of *queue*, oldest first (to inspect, or to enqueue again)."""

    async def pending(self, queue: str) -> int:
        """How many jobs of *queue* are waiting or running (not dead)."""

    async def close(self) -> None:
        """Stop listening; release connections."""
