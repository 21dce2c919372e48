"""``RedisQueueTransport``: the ``@tomodachi.redis_queue`` handlers of one service, on any backend.

- ``setup``: compile each handler's pipeline (``handler_for_subscription``: envelope, keywords,
  ``message_middleware``, the retry policy) and pick the backend (:func:`backend_for`: Redis, or
  the in-memory model with ``redis.broker = "memory"`` / ``--message-broker memory``);
- ``start``: check that Redis answers (else ``ServiceStartError``), create each handler's
  consumer group on its queue stream and retry stream; one WARNING per handler that drops
  failed messages (``redis.dead_letters = False``);
- ``started``: one receive loop per handler (``intake``): it reads as many entries as the
  handler has free slots (``XREADGROUP``, blocking up to ``redis.poll_interval``) and handles
  each in ``tasks``; one upkeep loop resets the idle time of entries still being handled,
  reclaims entries other consumers left unacknowledged for ``redis.claim_idle`` seconds
  (``XAUTOCLAIM``, counted as an attempt) and trims acknowledged entries;
- settling, after the pipeline: handled -> ``XACK``; otherwise the retry policy decides
  (``MessageHandler.decide``): a retry goes to the group's retry stream, after its delay through
  a sorted set Redis holds (never an in-process timer); a dead-letter to the group's dead-letter
  stream; both atomically with the ``XACK``. Every settled delivery is reported to the run's
  observers (``Settled``);
- while Redis is unreachable the transport is not ``ready`` and retries with a backoff (a message
  whose acknowledgement was lost is reclaimed and delivered again: at least once);
- ``stop``: stop reading, drain in-flight handlers within the grace period; what is cancelled
  stays pending and is reclaimed by another consumer (or this one, restarted) after
  ``redis.claim_idle``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tomodachi.clock import get_clock
from tomodachi.errors import ConfigurationError, ServiceStartError, describe_exception, mask_url_credentials
from tomodachi.logging import get_logger
from tomodachi.messaging.backend import memory_model, uses_memory_broker
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.observe import Settled, observers_of
from tomodachi.messaging.pipeline import MessageHandler, Outcome, Settle, handler_for_subscription
from tomodachi.messaging.retry import Verdict
from tomodachi.messaging.slots import Slots
from tomodachi.tasks import TaskTracker
from tomodachi.transport.base import Transport

from .backend import BackendUnavailable, Entry, QueueBackend, QueueKeys, decode_headers
from .declaration import RedisQueueSubscription
from .memory import MemoryQueueBackend, MemoryRedis
from .options import REDIS_FAMILY, RedisOptions, settings_of

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["RedisQueueTransport", "backend_for"]

T = TypeVar("T")

#: Tries of a settle call (ack, retry, dead-letter) while Redis is briefly unreachable.
_SETTLE_TRIES = 4


def _require_redis() -> None:
    try:
        import redis.asyncio  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"@tomodachi.redis_queue needs the 'redis' extra ({exc}): install it with "
            "'pip install \"tomodachi[redis]\"', or run on the in-memory broker (--message-broker memory)"
        ) from None


def backend_for(service: Any, runtime: Runtime) -> QueueBackend:
    """The backend of *service*: the run's in-memory model, or Redis on the run's shared client.

    The one place the choice is made (also for :func:`~.enqueue.redis_enqueue`).
    """
    settings = settings_of(service)
    if uses_memory_broker(service, runtime, REDIS_FAMILY):
        model = memory_model(runtime, REDIS_FAMILY, lambda: MemoryRedis(get_clock(runtime)))
        return MemoryQueueBackend(model, settings.maxlen)
    _require_redis()
    from .redis_backend import RedisBackend, shared_client

    return RedisBackend(shared_client(runtime, settings), settings)


@dataclass(slots=True)
class _Consumer:
    handler: str
    queue: str
    group: str
    keys: QueueKeys
    pipeline: MessageHandler
    slots: Slots
    dead_letter_to: str | None
    in_flight: dict[tuple[str, str], Entry] = field(default_factory=dict)
    outage: bool = False
    task_name: str = ""


class RedisQueueTransport(Transport):
    """Serves a service's ``@tomodachi.redis_queue`` handlers (see the module docstring)."""

    kind = "redis"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.settings = RedisOptions()
        self.backend: QueueBackend | None = None
        self.consumers: list[_Consumer] = []
        #: This instance's consumer name in every group (``CLIENT``-independent, unique per process).
        self.consumer_name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        #: Idle-time resets, reclaiming and trimming: outlives intake (it runs during the drain).
        self._upkeep = TaskTracker()
        self._started = False
        self._stopping = False
        #: Set once the drain is over: the upkeep loop then ends after its current step.
        self._closing = asyncio.Event()
        self._observers = observers_of(runtime)
        self._log = get_logger("tomodachi.redis").new(service=service.name)

    @classmethod
    def implementation(cls, service: Service, runtime: Runtime) -> type[Transport]:
        if not uses_memory_broker(service, runtime, REDIS_FAMILY):
            _require_redis()  # a missing 'redis' extra fails start-up naming the service
        return cls

    @property
    def ready(self) -> bool:
        """False before start, while Redis is unreachable, and once stopping."""
        return (
            self._started
            and not self._stopping
            and self.backend is not None
            and self.backend.ready
            and not any(c.outage for c in self.consumers)
        )

    # -- setup -------------------------------------------------------------------------------
    async def setup(self) -> None:
        self.settings = settings_of(self.service)
        seen: set[tuple[str, str]] = set()
        for handler in self.handlers:
            (sub,) = handler.args
            assert isinstance(sub, RedisQueueSubscription), "declared by redis_queue() only"
            where = f"@redis_queue({sub.queue!r}) on {handler.name}"
            if not sub.queue:
                raise ConfigurationError(f"{where}: the queue name must not be empty")
            group = sub.group or self.service.name
            if (sub.queue, group) in seen:
                raise ConfigurationError(
                    f"{where}: queue {sub.queue!r} already has a handler in group {group!r}"
                )
            seen.add((sub.queue, group))
            pipeline = handler_for_subscription(
                self.service, handler, sub, kind=self.kind, positional_key="queue", where=where
            )
            keys = QueueKeys.of(self.settings.key_prefix, sub.queue, group)
            self.consumers.append(
                _Consumer(
                    handler=handler.name,
                    queue=sub.queue,
                    group=group,
                    keys=keys,
                    pipeline=pipeline,
                    slots=Slots(sub.concurrency or self.settings.concurrency),
                    dead_letter_to=keys.dead if self.settings.dead_letters else None,
                    task_name=f"redis:{handler.name}",
                )
            )
        if self.consumers:
            self.backend = backend_for(self.service, self.runtime)

    def dead_letter_routes(self) -> list[DeadLetterRoute]:
        """Each handler's queue stream and dead-letter stream (``None``: failed messages are dropped)."""
        return [
            DeadLetterRoute(self.service.name, c.handler, self.kind, c.keys.stream, c.dead_letter_to)
            for c in self.consumers
        ]

    # -- start -------------------------------------------------------------------------------
    async def start(self) -> None:
        backend = self.backend
        if backend is None:
            return
        try:
            await backend.connect()
            for consumer in self.consumers:
                await backend.ensure_group(consumer.keys, consumer.group)
        except BackendUnavailable as exc:
            raise ServiceStartError(f"redis: cannot reach Redis ({exc})") from None
        for route in self.dead_letter_routes():
            if route.drops:
                self._log.warning(
                    "failed messages of this handler will be dropped: redis.dead_letters is off",
                    handler=route.handler,
                    queue=route.queue,
                )
        in_memory = isinstance(backend, MemoryQueueBackend)
        where = "in memory" if in_memory else mask_url_credentials(str(self.settings.url))
        for consumer in self.consumers:
            self._log.info(
                "consuming Redis stream",
                redis=where,
                handler=consumer.handler,
                stream=consumer.keys.stream,
                group=consumer.group,
            )
        self._started = True

    async def started(self) -> None:
        if self.backend is None:
            return
        for consumer in self.consumers:
            self.intake.spawn(self._receive(self.backend, consumer), name=f"redis:receive:{consumer.handler}")
        self._upkeep.spawn(self._upkeep_loop(self.backend), name="redis:upkeep")

    # -- receiving ---------------------------------------------------------------------------
    async def _receive(self, backend: QueueBackend, consumer: _Consumer) -> None:
        settings, slots = self.settings, consumer.slots
        backoff = 0.1
        while not self._stopping:
            try:
                if consumer.outage:
                    await backend.ensure_group(consumer.keys, consumer.group)
                    consumer.outage, backoff = False, 0.1
                    self._log.info("Redis reachable again", handler=consumer.handler)
                await slots.wait_free()
                if self._stopping:
                    return
                entries, _ = await backend.read(
                    consumer.keys,
                    consumer.group,
                    self.consumer_name,
                    slots.free,
                    float(settings.poll_interval),
                )
                self._take(consumer, entries)
            except BackendUnavailable as exc:
                if not consumer.outage:
                    consumer.outage = True
                    self._log.warning(
                        "Redis unreachable; reconnecting", handler=consumer.handler, error=str(exc)
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, float(settings.reconnect_delay_max))
            except Exception as exc:
                # Not an outage (a bug, a key of the wrong type): say so, keep the loop alive.
                self._log.error(
                    "reading the queue failed; retrying",
                    handler=consumer.handler,
                    error=describe_exception(exc),
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, float(settings.reconnect_delay_max))

    def _take(self, consumer: _Consumer, entries: list[Entry]) -> None:
        for entry in entries:
            consumer.slots.take()
            consumer.in_flight[(entry.stream, entry.stream_id)] = entry
            self.tasks.spawn(self._handle(consumer, entry), name=consumer.task_name)

    # -- one message -------------------------------------------------------------------------
    async def _handle(self, consumer: _Consumer, entry: Entry) -> None:
        pipeline = consumer.pipeline
        try:
            if entry.problem is not None:
                pipeline.logger.warning(
                    "undecodable message",
                    message_id=entry.message_id,
                    error=entry.problem,
                    stream=entry.stream,
                )
                outcome = Outcome(Settle.DEAD_LETTER, "undecodable", ValueError(entry.problem))
            elif (limit := pipeline.retry_policy.max_attempts) is not None and entry.attempt > limit:
                # Delivered again and again without being settled (its consumers crashed).
                outcome = Outcome(Settle.DEAD_LETTER, f"not settled in {entry.attempt - 1} deliveries")
            else:
                values: dict[str, Any] = {
                    "queue": consumer.queue,
                    "group": consumer.group,
                    "message_id": entry.message_id,
                    "stream_id": entry.stream_id,
                    "attempt": entry.attempt,
                    "enqueued_at": datetime.fromtimestamp(entry.enqueued_at, UTC),
                    "headers": decode_headers(entry.headers),
                }
                outcome = await pipeline(entry.payload, values, message_id=entry.message_id)
            if self._stopping:
                # Shielded once stopping: cancelling this task at the end of the grace period
                # never interrupts a Redis call (redis-py's clean-up of one can hang).
                result, delay = await asyncio.shield(self._settle(consumer, entry, outcome))
            else:
                result, delay = await self._settle(consumer, entry, outcome)
            observers = self._observers
            if observers.settled:
                observers.report_settled(
                    Settled(
                        frozenset((entry.message_id,)),
                        self.service.name,
                        self.kind,
                        consumer.handler,
                        entry.attempt,
                        result,
                        outcome.reason,
                        outcome.error,
                        delay,
                    )
                )
        except BackendUnavailable as exc:
            pipeline.logger.warning(
                "message not settled: Redis unreachable; it is delivered again after redis.claim_idle",
                message_id=entry.message_id,
                error=str(exc),
            )
        except Exception as exc:  # a bug here must not kill the consumer; the entry stays pending
            pipeline.logger.error(
                "could not settle message", message_id=entry.message_id, error=describe_exception(exc)
            )
        finally:
            # A cancelled handler (end of the grace period) leaves its entry pending: reclaimed.
            consumer.in_flight.pop((entry.stream, entry.stream_id), None)
            consumer.slots.give()

    async def _settle(self, consumer: _Consumer, entry: Entry, outcome: Outcome) -> tuple[str, float | None]:
        backend = self.backend
        assert backend is not None
        group = consumer.group
        if outcome.settle is Settle.ACK:  # the hot path: one call, retried only on failure
            try:
                await backend.ack(group, entry)
            except BackendUnavailable:
                await self._persist(lambda: backend.ack(group, entry))
            return "handled", None
        decision = consumer.pipeline.decide(
            outcome,
            entry.attempt,
            message_id=entry.message_id,
            dead_letter_to=consumer.dead_letter_to,
            quantize=lambda delay: round(delay, 3),
        )
        if decision.verdict is Verdict.RETRY:
            await self._persist(lambda: backend.retry(consumer.keys, group, entry, decision.delay))
            return "retry", decision.delay
        if decision.verdict is Verdict.DEAD_LETTER and consumer.dead_letter_to is not None:
            error = describe_exception(outcome.error) if outcome.error is not None else ""
            await self._persist(
                lambda: backend.dead_letter(
                    consumer.keys,
                    group,
                    entry,
                    reason=decision.reason,
                    error=error,
                    maxlen=self.settings.dead_letter_maxlen,
                )
            )
            return "dead_lettered", None
        await self._persist(lambda: backend.ack(group, entry))  # dropped (logged by decide())
        return "dropped", None

    async def _persist(self, call: Callable[[], Awaitable[T]]) -> T:
        """*call*, tried again a few times while Redis is briefly unreachable (a killed connection)."""
        delay = 0.1
        for attempt in range(1, _SETTLE_TRIES + 1):
            try:
                return await call()
            except BackendUnavailable:
                if attempt == _SETTLE_TRIES:
                    raise
                await asyncio.sleep(delay)
                delay *= 3
        raise AssertionError("unreachable")  # pragma: no cover

    # -- upkeep ------------------------------------------------------------------------------
    async def _upkeep_loop(self, backend: QueueBackend) -> None:
        settings = self.settings
        claim_idle = float(settings.claim_idle)
        trim_interval = float(settings.trim_interval)
        tick = min(claim_idle / 3, trim_interval) if trim_interval > 0 else claim_idle / 3
        since_trim = 0.0
        while not self._closing.is_set():
            await self._pause(backend, tick)
            if self._closing.is_set():
                return
            since_trim += tick
            trim = trim_interval > 0 and since_trim >= trim_interval - 1e-9
            if trim:
                since_trim = 0.0
            for consumer in self.consumers:
                try:
                    await self._upkeep_one(backend, consumer, claim_idle, trim)
                except BackendUnavailable:
                    pass  # the receive loop reports the outage
                except Exception as exc:
                    self._log.error(
                        "queue upkeep failed", handler=consumer.handler, error=describe_exception(exc)
                    )

    async def _pause(self, backend: QueueBackend, seconds: float) -> None:
        """Sleep on the backend's clock, or until the transport closes (cancel-safe: no Redis call)."""
        slept = asyncio.ensure_future(backend.sleep(seconds))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait((slept, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            slept.cancel()
            closing.cancel()
            await asyncio.gather(slept, closing, return_exceptions=True)

    async def _upkeep_one(
        self, backend: QueueBackend, consumer: _Consumer, claim_idle: float, trim: bool
    ) -> None:
        if consumer.in_flight:
            await backend.touch(consumer.group, self.consumer_name, list(consumer.in_flight.values()))
        if not self._stopping and consumer.slots.free > 0:
            entries = await backend.reclaim(
                consumer.keys, consumer.group, self.consumer_name, claim_idle, consumer.slots.free
            )
            # Not one this instance is still handling (its idle time could not be reset in time).
            entries = [e for e in entries if (e.stream, e.stream_id) not in consumer.in_flight]
            if entries:
                self._log.info(
                    "reclaimed messages left unacknowledged by a consumer",
                    handler=consumer.handler,
                    count=len(entries),
                )
                self._take(consumer, entries)
        if trim:
            await backend.trim(consumer.keys.stream)
            await backend.trim(consumer.keys.retry)

    # -- stop --------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop reading, drain in-flight handlers within the grace period; the rest stay pending."""
        self._stopping = True
        if self.backend is not None and not self.backend.cancel_safe_reads:
            # Let blocked reads return (they block at most redis.poll_interval), then cancel.
            await self.intake.drain(float(self.settings.poll_interval) + 1.0)
        await self.intake.cancel_all()
        running = len(self.tasks)
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log.warning(
                f"{len(cancelled)} of {running} message(s) not handled within the grace period: cancelled, "
                "left pending for another consumer (reclaimed after redis.claim_idle)",
                grace_period=self.grace_period,
            )
        await self._end_upkeep()

    async def _end_upkeep(self) -> None:
        # Not cancelled in the middle of a Redis call (redis-py's clean-up of a cancelled command
        # can hang): the loop ends after its current step, within the socket timeout.
        self._closing.set()
        await self._upkeep.drain(float(self.settings.socket_timeout) + 1.0)

    async def close(self) -> None:
        await self._end_upkeep()
        await super().close()
        if self.backend is not None:
            await self.backend.close()
