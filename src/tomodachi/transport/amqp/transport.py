"""``AmqpTransport``: the one consumer of ``@tomodachi.amqp`` handlers, on any AMQP backend.

Per service, one transport serves every ``@amqp`` handler. The broker is behind an
:class:`~tomodachi.transport.amqp.backend.AmqpBackend` (RabbitMQ, or the in-memory broker),
chosen once per service by :func:`~tomodachi.transport.amqp.backend.backend_for`; all the rest
happens here, the same on every backend:

- ``setup()`` resolves each handler's names (exchange, binding key, queue) and compiles its
  message pipeline;
- ``start()`` connects, declares the dead-letter exchange, the exchanges, queues and bindings
  (a non-competing queue that already has a consumer fails the start) and starts the consumers
  before ``_started_service`` (a service may wait there for a message it publishes to itself);
- each delivery runs in a task owned by the transport (an outage never cancels user code, only
  the grace period does): decoded as UTF-8, run through the pipeline, then acked, requeued or
  rejected (dead-lettered) by :meth:`AmqpTransport.disposition`;
- ``stop()`` cancels the consumers, drains in-flight handlers within the grace period and
  returns the unfinished ones' messages to their queue; ``close()`` releases the channel.

The concurrency bound is the broker's prefetch limit (``amqp.qos``), set by the backend.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError, describe_exception
from tomodachi.logging import get_logger
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.observe import Settled, observers_of
from tomodachi.messaging.pipeline import MessageHandler, Outcome, Settle, handler_for_subscription
from tomodachi.messaging.retry import Decision, Verdict
from tomodachi.observability import hooks as _hooks
from tomodachi.tasks import gather_or_cancel
from tomodachi.transport.amqp.backend import AmqpBackend, Delivery, OnDelivery, backend_for
from tomodachi.transport.amqp.declaration import AmqpSubscription
from tomodachi.transport.amqp.errors import AmqpTooManyConsumersException
from tomodachi.transport.amqp.naming import (
    decode_routing_key,
    default_exchange,
    encode_routing_key,
    queue_name,
)
from tomodachi.transport.amqp.redelivery import RedeliveryCounter
from tomodachi.transport.amqp.retries import (
    RetryQueues,
    bucket_ms,
    dead_letter_headers,
    dead_letter_queue_name,
    failed_attempts,
    origin,
    retry_headers,
)
from tomodachi.transport.base import Handler, Transport

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AmqpProperties", "AmqpSubscriber", "AmqpTransport"]

#: Seconds settling a delivery may take while the transport gives it back (stop, cancellation).
_GIVE_BACK_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class AmqpProperties:
    """What a handler's ``properties`` keyword receives (the same on every backend)."""

    message_id: str | None
    headers: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    delivery_tag: int | None = None
    #: 1 on the first delivery; counted by tomodachi where the broker does not count.
    delivery_count: int = 1
    content_type: str | None = None
    exchange: str = ""
    routing_key: str = ""


@dataclass(slots=True)
class AmqpSubscriber:
    """One handler resolved against the service's options (names are final here)."""

    handler: Handler
    pipeline: MessageHandler
    exchange: str
    binding_key: str
    queue: str
    competing: bool
    #: ``<queue>.dlq`` with ``amqp.dead_letter_queues``; else None.
    dead_letter_queue: str | None = None
    #: What log lines name as the dead-letter destination (None: failed messages are dropped).
    dead_letter_to: str | None = None


_RESULTS = {
    Verdict.ACK: "handled",
    Verdict.RETRY: "retry",
    Verdict.DEAD_LETTER: "dead_lettered",
    Verdict.DROP: "dropped",
}


def _quantize(delay: float) -> float:
    """The delay a retry queue gives (the ladder of :func:`.retries.bucket_ms`)."""
    return bucket_ms(delay) / 1000 if delay > 0 else 0.0


class AmqpTransport(Transport):
    """Serves a service's ``@amqp`` handlers (see the module docstring)."""

    kind = "amqp"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.consumers: list[AmqpSubscriber] = []
        self.backend: AmqpBackend | None = None
        self._stopping = False
        self._dead_letter_exchange: str | None = None
        self._redeliveries = RedeliveryCounter()
        self._retry_queues = RetryQueues()
        self._log = get_logger("tomodachi.amqp")
        self._observers = observers_of(runtime)

    @property
    def ready(self) -> bool:
        """False before start, while the broker is unreachable, and once stopping."""
        backend = self.backend
        return backend is not None and not self._stopping and backend.ready

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        self.backend = backend_for(self.service, self.runtime)(self.service, self.runtime)
        self._dead_letter_exchange = self.service.options.amqp.dead_letter_exchange or None
        for handler in self.handlers:
            self.consumers.append(self._subscriber(handler))

    def _subscriber(self, handler: Handler) -> AmqpSubscriber:
        options = self.service.options.amqp
        sub = handler.args[0]
        if not isinstance(sub, AmqpSubscription):  # pragma: no cover - declared by amqp() only
            raise ConfigurationError(f"{handler.name}: not declared with @tomodachi.amqp")
        where = f"@amqp handler {handler.name!r}"
        if not isinstance(sub.routing_key, str):
            raise ConfigurationError(f"{where}: routing_key must be a string, got {sub.routing_key!r}")
        if sub.queue_name is not None and sub.competing is False:
            raise ConfigurationError(
                f"{where}: a queue_name is shared by every instance, so it cannot be competing=False"
            )
        competing = bool(sub.competing) or sub.queue_name is not None
        pipeline = handler_for_subscription(
            self.service,
            handler,
            sub,
            kind="amqp",
            positional_key="routing_key",
            where=where,
            value_names=("routing_key", "exchange_name", "properties"),  # as values_for() gives
        )
        if sub.retry is None and options.max_redeliveries is not None:  # the older option, kept
            pipeline.retry_policy = pipeline.retry_policy.with_max_attempts(options.max_redeliveries + 1)
        subscriber = AmqpSubscriber(
            handler=handler,
            pipeline=pipeline,
            exchange=default_exchange(self.service, sub.exchange_name),
            binding_key=encode_routing_key(options.routing_key_prefix + sub.routing_key),
            queue=queue_name(
                sub.routing_key,
                handler.name,
                str(self.service.uuid),
                competing=competing,
                explicit_name=sub.queue_name,
                prefix=options.queue_name_prefix,
                routing_key_prefix=options.routing_key_prefix,
            ),
            competing=competing,
        )
        if options.dead_letter_queues:
            subscriber.dead_letter_queue = dead_letter_queue_name(subscriber.queue)
            subscriber.dead_letter_to = f"queue {subscriber.dead_letter_queue}"
        elif self._dead_letter_exchange:
            subscriber.dead_letter_to = f"exchange {self._dead_letter_exchange}"
        return subscriber

    # -- start -----------------------------------------------------------------------------
    async def start(self) -> None:
        assert self.backend is not None, "setup() first"
        await self.backend.start(self._declare_and_consume)

    async def _declare_and_consume(self) -> None:
        backend = self.backend
        assert backend is not None
        ttl = int(self.service.options.amqp.queue_ttl or 0) or None
        dlx = self._dead_letter_exchange
        if dlx:
            await backend.declare_exchange(dlx)
        declared: set[str] = set()
        for consumer in self.consumers:
            if consumer.exchange not in declared:
                await backend.declare_exchange(consumer.exchange)
                declared.add(consumer.exchange)
            consumers = await backend.declare_queue(consumer.queue, ttl=ttl, dead_letter_exchange=dlx)
            if not consumer.competing and consumers:
                raise AmqpTooManyConsumersException(
                    f"queue {consumer.queue!r} of handler {consumer.handler.name!r} already has "
                    f"{consumers} consumer(s): a non-competing queue serves one service instance "
                    "(use competing=True to share the work between instances)"
                )
            await backend.bind(consumer.queue, consumer.exchange, consumer.binding_key)
            if consumer.dead_letter_queue is not None:
                await backend.declare_queue(consumer.dead_letter_queue, ttl=None, dead_letter_exchange=None)
            elif consumer.dead_letter_to is None:
                consumer.pipeline.logger.warning(
                    "no dead-letter destination: messages that fail for good are dropped "
                    "(set amqp.dead_letter_queues = True, or amqp.dead_letter_exchange)",
                    queue=consumer.queue,
                )
        # Every consumer at once (one round trip, not one per handler).
        await gather_or_cancel(
            *(backend.consume(consumer.queue, self._on_delivery_for(consumer)) for consumer in self.consumers)
        )

    # -- per delivery ----------------------------------------------------------------------
    def _on_delivery_for(self, consumer: AmqpSubscriber) -> OnDelivery:
        spawn = self.tasks.spawn
        deliver = self._deliver
        backend = self.backend
        assert backend is not None

        async def on_delivery(delivery: Delivery) -> None:
            # The backend calls this in its receive task (on RabbitMQ one tied to the channel,
            # cancelled if the channel closes); the handler runs in a task owned by this transport.
            if self._stopping:  # sent before the broker saw our cancel: give it back
                await _settle_quietly(backend.requeue(delivery))
                return
            spawn(deliver(consumer, backend, delivery))

        return on_delivery

    async def _deliver(self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery) -> None:
        message_id = delivery.message_id
        count = self._redeliveries.count(delivery)  # this copy's deliveries
        payload = _decode_body(consumer.pipeline, delivery)
        if isinstance(payload, Outcome):
            outcome = payload
        else:
            first = origin(delivery)  # a retried copy: where the message was first published
            properties = AmqpProperties(
                message_id,
                delivery.headers,
                delivery.redelivered,
                delivery.delivery_tag,
                failed_attempts(delivery) + count,
                delivery.content_type,
                first[0] if first else delivery.exchange,
                first[1] if first else delivery.routing_key,
            )
            try:
                outcome = await consumer.pipeline(
                    payload, self.values_for(consumer, properties), message_id=message_id or ""
                )
            except asyncio.CancelledError:
                # Not finished within the grace period: give the message back to the queue.
                await _settle_quietly(backend.requeue(delivery))
                raise
        await self._settle(consumer, backend, delivery, count, outcome)

    async def _settle(
        self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery, local: int, outcome: Outcome
    ) -> None:
        """Carry out the retry policy's decision with the broker (see :mod:`.retries`).

        *local* is the broker's delivery count of this copy of the message; the attempt number
        adds the deliveries that failed before a delayed retry republished it.
        """
        failed_before = failed_attempts(delivery)
        attempt = failed_before + local
        if outcome.settle is Settle.ACK and _hooks.active is None and not self._observers.settled:
            # The usual case, kept cheap: handled, nobody watching. The policy's verdict for a
            # handled message is always "ack" and is not logged, so it is not asked.
            try:
                await backend.ack(delivery)
            except backend.settle_errors as exc:
                consumer.pipeline.logger.debug(
                    "delivery not settled: channel closed; the broker redelivers it",
                    message_id=delivery.message_id,
                    error=repr(exc),
                )
                return
            if delivery.redelivered:
                self._redeliveries.settled(delivery)
            backend.settled(consumer.handler.name, delivery, attempt, "handled", outcome)
            return
        decision = consumer.pipeline.decide(
            outcome,
            attempt,
            message_id=delivery.message_id,
            dead_letter_to=consumer.dead_letter_to,
            quantize=_quantize,
        )
        verdict = decision.verdict
        result = _RESULTS[verdict]
        try:
            if verdict is Verdict.ACK:
                await backend.ack(delivery)
                self._redeliveries.settled(delivery)
            elif verdict is Verdict.RETRY:
                if not await self._retry_later(consumer, backend, delivery, attempt, decision.delay):
                    self._redeliveries.requeued(delivery, local)
                    await backend.requeue(delivery)
            elif verdict is Verdict.DEAD_LETTER and consumer.dead_letter_queue is not None:
                if not await self._to_dead_letter_queue(consumer, backend, delivery, decision, outcome):
                    result = "retry"
            elif verdict is Verdict.DEAD_LETTER and self._dead_letter_exchange and origin(delivery):
                # A retried copy: to the dead-letter exchange with its original routing key.
                if not await self._to_dead_letter_exchange(consumer, backend, delivery, decision, outcome):
                    result = "retry"
            elif verdict is Verdict.DEAD_LETTER:
                # To the queue's dead-letter exchange; without one, the broker drops it (logged).
                self._redeliveries.settled(delivery)
                await backend.reject(delivery)
                if not self._dead_letter_exchange:
                    result = "dropped"
            else:  # DROP (after_last_attempt="drop"): gone, even with a dead-letter exchange
                self._redeliveries.settled(delivery)
                await backend.ack(delivery)
        except backend.settle_errors as exc:
            # The channel closed (broker outage) while the handler ran: the broker has already
            # put the message back and delivers it again after the reconnection.
            consumer.pipeline.logger.debug(
                "delivery not settled: channel closed; the broker redelivers it",
                message_id=delivery.message_id,
                error=repr(exc),
            )
            return
        backend.settled(consumer.handler.name, delivery, attempt, result, outcome)
        observers = self._observers
        if observers.settled:
            observers.report_settled(
                Settled(
                    frozenset((delivery.message_id,)) if delivery.message_id else frozenset(),
                    self.service.name,
                    "amqp",
                    consumer.handler.name,
                    attempt,
                    result,
                    outcome.reason,
                    outcome.error,
                    decision.delay if verdict is Verdict.RETRY else None,
                )
            )

    async def _retry_later(
        self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery, attempt: int, delay: float
    ) -> bool:
        """Move the message to the retry queue for *delay*, then ack it; False: requeue it at once."""
        if delay <= 0:
            return False  # RetryPolicy.immediate(): the original's requeue
        loop = asyncio.get_running_loop()
        try:
            queue = await self._retry_queues.ensure(backend, consumer.queue, bucket_ms(delay), loop.time())
            await backend.republish(delivery, "", queue, retry_headers(delivery, attempt))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker refused or unreachable: requeue now (counted as an attempt)
            self._retry_queues.forget()
            consumer.pipeline.logger.warning(
                "could not delay the retry: message requeued at once",
                message_id=delivery.message_id,
                error=describe_exception(exc),
            )
            return False
        await backend.ack(delivery)
        self._redeliveries.settled(delivery)
        return True

    async def _to_dead_letter_queue(
        self,
        consumer: AmqpSubscriber,
        backend: AmqpBackend,
        delivery: Delivery,
        decision: Decision,
        outcome: Outcome,
    ) -> bool:
        """Publish the message to the handler's ``<queue>.dlq`` (confirmed), then ack it."""
        assert consumer.dead_letter_queue is not None
        return await self._move(
            consumer, backend, delivery, decision, outcome, "", consumer.dead_letter_queue
        )

    async def _to_dead_letter_exchange(
        self,
        consumer: AmqpSubscriber,
        backend: AmqpBackend,
        delivery: Delivery,
        decision: Decision,
        outcome: Outcome,
    ) -> bool:
        """Publish a retried copy to ``amqp.dead_letter_exchange`` with its original routing key."""
        assert self._dead_letter_exchange is not None
        first = origin(delivery)
        routing_key = first[1] if first else delivery.routing_key
        return await self._move(
            consumer, backend, delivery, decision, outcome, self._dead_letter_exchange, routing_key
        )

    async def _move(
        self,
        consumer: AmqpSubscriber,
        backend: AmqpBackend,
        delivery: Delivery,
        decision: Decision,
        outcome: Outcome,
        exchange: str,
        routing_key: str,
    ) -> bool:
        """Publish the message to its dead-letter destination (confirmed), then ack it; if the
        broker does not take it, it is requeued rather than lost (False)."""
        error = describe_exception(outcome.error) if outcome.error is not None else None
        headers = dead_letter_headers(delivery, decision.attempt, consumer.queue, decision.reason, error)
        try:
            await backend.republish(delivery, exchange, routing_key, headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            consumer.pipeline.logger.warning(
                "could not move the message to its dead-letter destination: requeued",
                message_id=delivery.message_id,
                dead_letter_to=consumer.dead_letter_to,
                error=describe_exception(exc),
            )
            await backend.requeue(delivery)
            return False
        self._redeliveries.settled(delivery)
        await backend.ack(delivery)
        return True

    def values_for(self, consumer: AmqpSubscriber, properties: AmqpProperties) -> dict[str, Any]:
        """The transport keywords of one delivery (``routing_key`` is the key it was sent with)."""
        prefix = self.service.options.amqp.routing_key_prefix
        routing_key = decode_routing_key(properties.routing_key)
        if prefix and routing_key.startswith(prefix):
            routing_key = routing_key[len(prefix) :]
        return {
            "routing_key": routing_key,
            "exchange_name": properties.exchange,
            "properties": properties,
        }

    def dead_letter_routes(self) -> list[DeadLetterRoute]:
        """Where each handler's failed messages go (after :meth:`setup`; no connection needed)."""
        return [
            DeadLetterRoute(
                self.service.name,
                consumer.handler.name,
                "amqp",
                consumer.queue,
                consumer.dead_letter_queue,
                None if consumer.dead_letter_queue else self._dead_letter_exchange,
            )
            for consumer in self.consumers
        ]

    # -- stop ------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Cancel the consumers, drain in-flight handlers within the grace period, requeue the rest."""
        self._stopping = True
        if self.backend is not None:
            await self.backend.stop_consuming()
        in_flight = len(self.tasks)
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log.warning(
                f"{len(cancelled)} of {in_flight} message handler(s) did not finish within the grace period: "
                "cancelled, their messages go back to the queue",
                service=self.service.name,
                grace_period=self.grace_period,
            )

    async def close(self) -> None:
        """Release the channel: messages still unacknowledged go back to their queues."""
        if self.backend is not None:
            await self.backend.close()


async def _settle_quietly(settle: Any) -> None:
    try:
        await asyncio.wait_for(settle, _GIVE_BACK_TIMEOUT)
    except (Exception, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and _cancelling():
            raise


def _decode_body(pipeline: MessageHandler, delivery: Delivery) -> str | Outcome:
    """The body as text, or the outcome of an undecodable one (over ``max_message_size``, not UTF-8)."""
    body = delivery.body
    if len(body) > pipeline.max_size:  # refused before it is decoded
        return pipeline.too_large(delivery.message_id or "", len(body))
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        pipeline.logger.warning(
            "undecodable message", message_id=delivery.message_id, error=f"body is not UTF-8 ({exc.reason})"
        )
        return Outcome(Settle.DEAD_LETTER, "undecodable", exc)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
