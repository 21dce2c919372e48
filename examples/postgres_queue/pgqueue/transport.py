"""``PgQueueTransport``: the one consumer of ``@pg_queue`` handlers, on any :class:`~.store.JobStore`.

Per service, one transport serves every ``@pg_queue`` handler (one handler per queue):

- ``setup()`` reads the options, picks the store (:func:`store_for`) and compiles each handler's
  message pipeline with ``tomodachi.messaging.pipeline.handler_for_subscription`` (envelope,
  keywords, ``message_middleware``, ``RetryMessage`` / ``RejectMessage``, and the handler's
  retry policy: ``@pg_queue(..., retry=)``, else the service's ``retry`` options);
- ``start()`` connects (an unreachable database fails the start) and starts the claim loop: it
  claims as many jobs as there are free ``Slots``, runs each in a task the transport owns, and
  sleeps until a ``NOTIFY``, the next due job or ``poll_interval``, whichever is first;
- each job is settled by the retry policy's decision (``pipeline.decide(outcome, attempt)``,
  which also writes the WARNING line of a retry or a dead job): handled jobs are deleted; a
  retried job runs again after ``decision.delay`` seconds (the store holds it: ``run_at``); a
  dead-lettered job stays in the table as dead, with its reason; a dropped one
  (``after_last_attempt="drop"``) is deleted. Each settled job is reported to the run's message
  observers (``tomodachi.testing``'s ``Delivery.outcome()`` reads them);
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
from tomodachi.clock import get_clock
from tomodachi.errors import ConfigurationError, ServiceStartError
from tomodachi.messaging.backend import memory_model, uses_memory_broker
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.observe import Observers, Settled, observers_of
from tomodachi.messaging.pipeline import MessageHandler, Outcome, handler_for_subscription
from tomodachi.messaging.retry import Decision, RetryPolicy, Verdict
from tomodachi.messaging.slots import Slots
from tomodachi.tasks import TaskTracker

from .declaration import PgQueueSubscription
from .memory import MemoryDatabase, MemoryJobStore
from .settings import PG_QUEUE, PgQueueOptions, settings_of
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
        # The model keeps time on the run's clock (a test's ManualClock moves delays and retries).
        database = memory_model(runtime, PG_QUEUE, lambda: MemoryDatabase(get_clock(runtime)))
        return MemoryJobStore(database.table(settings.table))
    from .postgres import PostgresJobStore, SharedPool

    return PostgresJobStore(SharedPool.of(runtime, settings.dsn), settings)


@dataclass(frozen=True, slots=True)
class _Consumer:
    queue: str
    handler: str
    pipeline: MessageHandler
    #: Where its dead jobs are, for log lines and ``dead_letter_routes()``.
    dead_letter_to: str


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
        self._observers: Observers | None = None

    @property
    def ready(self) -> bool:
        """False before start, while the database is unreachable, and once stopping."""
        return self._started and not self._stopping and self.store is not None and self.store.ready

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        self.settings = settings_of(self.service)
        self.store = store_for(self.service, self.runtime)
        self.slots = Slots(self.settings.concurrency)
        self._observers = observers_of(self.runtime)
        for handler in self.handlers:
            sub = handler.args[0]
            assert isinstance(sub, PgQueueSubscription), "declared by pg_queue() only"
            where = f"@pg_queue handler {handler.name!r}"
            if sub.queue in self.consumers:
                raise ConfigurationError(f"{where}: queue {sub.queue!r} already has a handler")
            # The handler's retry policy: retry=, else the service's ``retry`` options.
            pipeline = handler_for_subscription(
                self.service, handler, sub, kind=self.kind, positional_key="queue", where=where
            )
            pipeline.retry_policy = self._max_attempts_kept(pipeline.retry_policy, sub, where)
            dead_letter_to = f"{self.settings.table} (state dead, queue {sub.queue!r})"
            self.consumers[sub.queue] = _Consumer(sub.queue, handler.name, pipeline, dead_letter_to)

    def _max_attempts_kept(self, policy: RetryPolicy, sub: PgQueueSubscription, where: str) -> RetryPolicy:
        """The example's own ``max_attempts`` (decorator, then option), kept from before ``retry``.

        ``@pg_queue(..., max_attempts=n)`` replaces the policy's ``max_attempts``; the option
        ``pg_queue.max_attempts`` does so for a handler without its own ``retry=``.
        """
        if sub.max_attempts is not None:
            if sub.retry is not None:
                raise ConfigurationError(
                    f"{where}: give max_attempts= or retry=, not both "
                    "(retry=RetryPolicy(max_attempts=...), or policy.with_max_attempts(n))"
                )
            try:
                return policy.with_max_attempts(sub.max_attempts)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{where}: {exc}") from None
        if sub.retry is None and self.settings.max_attempts is not None:
            return policy.with_max_attempts(self.settings.max_attempts)
        return policy

    def dead_letter_routes(self) -> list[DeadLetterRoute]:
        """Each handler's queue and where its dead jobs are: the jobs table, ``state = 'dead'``.

        Known after :meth:`setup`, without a connection (start-up checks, ``tomodachi dlq``).
        """
        return [
            DeadLetterRoute(self.service.name, c.handler, self.kind, c.queue, c.dead_letter_to)
            for c in self.consumers.values()
        ]

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
            await store.sleep(self.settings.lock_seconds / 3)  # in the time the locks expire in
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
        """Carry out the retry policy's decision on the job; report it once it is done."""
        # decide() applies the handler's RetryPolicy and logs the retry / dead-letter / drop line.
        decision = consumer.pipeline.decide(
            outcome, job.attempts, message_id=str(job.id), dead_letter_to=consumer.dead_letter_to
        )
        verdict = decision.verdict
        if verdict is Verdict.ACK:
            await store.complete(job)
            result = "handled"
        elif verdict is Verdict.RETRY:
            # The database holds the job until its delay is over (run_at), then any consumer claims it.
            await store.retry(job, delay=decision.delay, error=_describe(outcome))
            result = "retry"
        elif verdict is Verdict.DEAD_LETTER:
            await store.dead_letter(job, error=_dead_reason(decision, outcome))
            result = "dead_lettered"
        else:  # DROP (after_last_attempt="drop"): deleted like a handled job; decide() logged it
            await store.complete(job)
            result = "dropped"
        self._report(consumer, job, result, outcome, decision)

    def _report(
        self, consumer: _Consumer, job: Job, result: str, outcome: Outcome, decision: Decision
    ) -> None:
        observers = self._observers
        if observers is None or not observers.settled:  # the one check while nobody listens
            return
        observers.report_settled(
            Settled(
                frozenset((str(job.id),)),
                self.service.name,
                self.kind,
                consumer.handler,
                job.attempts,
                result,
                decision.reason,
                outcome.error,
                decision.delay if decision.verdict is Verdict.RETRY else None,
            )
        )

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


def _dead_reason(decision: Decision, outcome: Outcome) -> str:
    """A dead job's ``last_error``: why it failed, and that it ran out of attempts if it did."""
    if decision.exhausted:
        return f"gave up after {decision.attempt} attempts: {_describe(outcome)}"
    return _describe(outcome)


async def _quietly(call: Awaitable[None]) -> None:
    try:
        await asyncio.wait_for(call, _GIVE_BACK_TIMEOUT)
    except (Exception, asyncio.CancelledError):
        pass  # not given back: its lock expires, then it runs again
