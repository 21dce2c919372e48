"""``PgQueueTransport``: the one consumer of ``@pg_queue`` handlers, on any :class:`~.store.JobStore`.

Per service, one transport serves every ``@pg_queue`` handler (one handler per queue):

- ``setup()`` reads the options, picks the store (:func:`store_for`) and compiles each handler's
  message pipeline with ``tomodachi.messaging.pipeline.handler_for_subscription`` (envelope,
  keywords, ``message_middleware``, ``RetryMessage`` / ``RejectMessage``);
- ``start()`` connects (an unreachable database fails the start) and starts the claim loop: it
  claims as many jobs as there are free ``Slots``, runs each in a task the transport owns, and
  sleeps until a ``NOTIFY``, the next due job or ``poll_interval``, whichever is first;
- each job is settled by its ``Outcome``: handled jobs are deleted, a retry runs again after a
  backoff (``pg_queue.retry_delay`` doubling) until ``max_attempts``, then it is dead; a rejected
  job, an undecodable one or one whose handler raised is dead at once;
- while the database is unreachable the transport is not ``ready`` and reconnects with a backoff;
- ``stop()`` stops claiming, drains the running jobs within ``self.grace_period`` and gives the
  unfinished ones back (their attempt not counted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import tomodachi
from tomodachi.errors import ConfigurationError, ServiceStartError
from tomodachi.messaging.backend import memory_model, uses_memory_broker
from tomodachi.messaging.pipeline import MessageHandler, Outcome, Settle, handler_for_subscription
from tomodachi.messaging.slots import Slots
from tomodachi.tasks import TaskTracker

from .declaration import PgQueueSubscription
from .memory import MemoryDatabase, MemoryJobStore
from .settings import PG_QUEUE, PgQueueOptions, backoff, settings_of
from .store import Job, JobStore, StoreUnavailable

__all__ = ["PgQueueTransport", "store_for"]

#: Seconds a store call may take while a cancelled job is given back.
_GIVE_BACK_TIMEOUT = 2.0
#: The shortest idle wait, so a job another consumer holds for a moment never makes a hot loop.
_MIN_WAIT = 0.02


def store_for(service: tomodachi.Service, runtime: tomodachi.Runtime) -> JobStore:
    """The store of *service*: in memory, or PostgreSQL on the run's pool for ``pg_queue.dsn``.

    The one place that chooses (also for :func:`~.enqueue.pg_enqueue`).
    """
    settings = settings_of(service)
    if uses_memory_broker(service, runtime, PG_QUEUE):
        return MemoryJobStore(memory_model(runtime, PG_QUEUE, MemoryDatabase).table(settings.table))
    from .postgres import PostgresJobStore, SharedPool

    return PostgresJobStore(SharedPool.of(runtime, settings.dsn), settings)


@dataclass(frozen=True, slots=True)
class _Consumer:
    queue: str
    pipeline: MessageHandler
    max_attempts: int


class PgQueueTransport(tomodachi.Transport):
    """Serves a service's ``@pg_queue`` handlers (see the module docstring)."""

    kind = "pg_queue"

    def __init__(self, service: tomodachi.Service, runtime: tomodachi.Runtime) -> None:
        super().__init__(service, runtime)
        self.settings = PgQueueOptions()
        self.store: JobStore | None = None
        self.consumers: dict[str, _Consumer] = {}
        self.slots = Slots(1)
        self._running: dict[int, Job] = {}
        #: The lock extension of running jobs: it outlives intake (cancelled after the drain).
        self.keepalive = TaskTracker()
        self._started = False
        self._stopping = False
        self._log = tomodachi.get_logger("pgqueue")

    @property
    def ready(self) -> bool:
        """False before start, while the database is unreachable, and once stopping."""
        return self._started and not self._stopping and self.store is not None and self.store.ready

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        self.settings = settings_of(self.service)
        self.store = store_for(self.service, self.runtime)
        self.slots = Slots(self.settings.concurrency)
        for handler in self.handlers:
            sub = handler.args[0]
            assert isinstance(sub, PgQueueSubscription), "declared by pg_queue() only"
            where = f"@pg_queue handler {handler.name!r}"
            if sub.queue in self.consumers:
                raise ConfigurationError(f"{where}: queue {sub.queue!r} already has a handler")
            pipeline = handler_for_subscription(
                self.service, handler, sub, kind="pg_queue", positional_key="queue", where=where
            )
            self.consumers[sub.queue] = _Consumer(
                sub.queue, pipeline, sub.max_attempts or self.settings.max_attempts
            )

    # -- start -----------------------------------------------------------------------------
    async def start(self) -> None:
        assert self.store is not None, "setup() first"
        try:
            await self.store.connect()
        except StoreUnavailable as exc:
            raise ServiceStartError(f"pg_queue: cannot reach the job database ({exc})") from None
        self._started = True
        # The claim loop is intake (cancelled first on stop); each job runs in self.tasks (drained).
        self.intake.spawn(self._claim_loop(self.store), name="pg_queue:claim")
        self.keepalive.spawn(self._extend_loop(self.store), name="pg_queue:extend")

    async def _claim_loop(self, store: JobStore) -> None:
        queues = list(self.consumers)
        settings = self.settings
        backoff = 0.1
        while True:
            try:
                if not store.ready:
                    await store.connect()
                    self._log.info("job database reachable again", service=self.service.name)
                await self.slots.wait_free()
                jobs = await store.claim(queues, self.slots.free, lock_seconds=settings.lock_seconds)
                for job in jobs:
                    self.slots.take()
                    self._running[job.id] = job
                    self.tasks.spawn(self._run(store, job), name=f"pg_queue:{job.queue}:{job.id}")
                backoff = 0.1
                if jobs and self.slots.free:
                    continue  # there may be more
                if not self.slots.free:
                    continue  # wait for a slot, then claim
                due = await store.next_due(queues)
                await store.wait(
                    max(
                        settings.poll_interval if due is None else min(due, settings.poll_interval), _MIN_WAIT
                    )
                )
            except StoreUnavailable as exc:
                self._log.warning(
                    "job database unreachable; retrying",
                    service=self.service.name,
                    error=str(exc),
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, settings.reconnect_delay_max)
            except Exception:
                # Not an outage (a dropped table, a bug): say so, and keep the loop alive.
                self._log.exception(
                    "claiming jobs failed; retrying", service=self.service.name, retry_in=backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, settings.reconnect_delay_max)

    async def _extend_loop(self, store: JobStore) -> None:
        """Keep the claims of running jobs, so a long handler does not lose its job to another."""
        while True:
            await asyncio.sleep(self.settings.lock_seconds / 3)
            if self._running:
                try:
                    await store.extend(list(self._running.values()), lock_seconds=self.settings.lock_seconds)
                except StoreUnavailable:
                    pass  # the claim loop reports the outage
                except Exception:
                    self._log.exception(
                        "extending the claims of running jobs failed", service=self.service.name
                    )

    # -- per job ---------------------------------------------------------------------------
    async def _run(self, store: JobStore, job: Job) -> None:
        consumer = self.consumers[job.queue]
        values: dict[str, Any] = {"queue": job.queue, "job_id": job.id, "attempt": job.attempts}
        try:
            outcome = await consumer.pipeline(job.payload, values, message_id=str(job.id))
        except asyncio.CancelledError:
            # Not finished within the grace period: give the job back for another consumer.
            await _quietly(store.release(job))
            raise
        finally:
            self._running.pop(job.id, None)
            self.slots.give()
        try:
            await self._settle(store, consumer, job, outcome)
        except StoreUnavailable as exc:
            # Its lock expires and the job runs again: at-least-once, as with any broker.
            consumer.pipeline.logger.warning(
                "job not settled: database unreachable", job_id=job.id, error=str(exc)
            )
        except Exception:
            consumer.pipeline.logger.exception(
                "job not settled; it runs again when its claim expires", job_id=job.id
            )

    async def _settle(self, store: JobStore, consumer: _Consumer, job: Job, outcome: Outcome) -> None:
        log = consumer.pipeline.logger
        error = _describe(outcome)
        if outcome.settle is Settle.ACK:
            await store.complete(job)
        elif outcome.settle is Settle.RETRY and job.attempts < consumer.max_attempts:
            delay = backoff(self.settings, job.attempts)
            await store.retry(job, delay=delay, error=error)
            log.info("job will be retried", job_id=job.id, attempt=job.attempts, retry_in=delay)
        else:
            if outcome.settle is Settle.RETRY:
                error = f"gave up after {job.attempts} attempts: {error}"
            await store.dead_letter(job, error=error)
            log.warning("job dead-lettered", job_id=job.id, attempt=job.attempts, reason=error)

    # -- stop ------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop claiming, drain running jobs within the grace period, give the rest back."""
        self._stopping = True
        await self.intake.cancel_all()
        running = len(self.tasks)
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log.warning(
                f"{len(cancelled)} of {running} job(s) did not finish within the grace period: "
                "cancelled, given back to the queue",
                service=self.service.name,
                grace_period=self.grace_period,
            )
        await self.keepalive.cancel_all()

    async def close(self) -> None:
        await self.keepalive.cancel_all()
        await super().close()  # cancels what intake and tasks still run (after a failed start)
        if self.store is not None:
            await self.store.close()


def _describe(outcome: Outcome) -> str:
    if outcome.error is None:
        return outcome.reason
    return f"{outcome.reason}: {type(outcome.error).__name__}: {outcome.error}"


async def _quietly(call: Awaitable[None]) -> None:
    try:
        await asyncio.wait_for(call, _GIVE_BACK_TIMEOUT)
    except (Exception, asyncio.CancelledError):
        pass  # not given back: its lock expires, then it runs again
