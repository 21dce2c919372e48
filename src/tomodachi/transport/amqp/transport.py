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
  the grace period does): decoded as UTF-8, run through the pipeline, then settled by the
  handler's retry policy (:class:`~tomodachi.transport.amqp.settle.Settler`: ack, retry
  later through a retry queue, requeue, dead-letter or drop);
- ``stop()`` cancels the consumers, drains in-flight handlers within the grace period and
  returns the unfinished ones' messages to their queue; ``close()`` releases the channel.

The concurrency bound is the broker's prefetch limit (``amqp.qos``), set by the backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError
from tomodachi.logging import get_logger
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.pipeline import HANDLED, MessageHandler, Outcome, Settle, handler_for_subscription
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
from tomodachi.transport.amqp.retries import dead_letter_queue_name, failed_attempts, origin
from tomodachi.transport.amqp.settle import Settler, channel_closed
from tomodachi.transport.base import Handler, Transport

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AmqpProperties", "AmqpSubscriber", "AmqpTransport"]

#: Seconds settling a delivery may take while the transport gives it back (stop, cancellation).
_GIVE_BACK_TIMEOUT = 1.0


#: The values an ``@amqp`` handler can be given besides the message (see ``values_for``).
VALUE_NAMES = ("routing_key", "exchange_name", "properties")


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
    #: Whether the handler (or a middleware) may read one of :data:`VALUE_NAMES`; when not, they
    #: are not built for each delivery.
    values_wanted: bool = True


class AmqpTransport(Transport):
    """Serves a service's ``@amqp`` handlers (see the module docstring)."""

    kind = "amqp"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.consumers: list[AmqpSubscriber] = []
        self.backend: AmqpBackend | None = None
        self._stopping = False
        self._dead_letter_exchange: str | None = None
        self._settler = Settler(service.name, runtime)
        self._log = get_logger("tomodachi.amqp")

    @property
    def ready(self) -> bool:
        """False before start, while the broker is unreachable, and once stopping."""
        backend = self.backend
        return backend is not None and not self._stopping and backend.ready

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        self.backend = backend_for(self.service, self.runtime)(self.service, self.runtime)
        self._dead_letter_exchange = self.service.options.amqp.dead_letter_exchange or None
        self._settler.dead_letter_exchange = self._dead_letter_exchange
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
            value_names=VALUE_NAMES,
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
            values_wanted=pipeline.takes_any(VALUE_NAMES),
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
        tasks = self.tasks
        # Given the loop: Python 3.11 asks the OS for the pid when it looks the running loop up.
        loop = asyncio.get_running_loop()
        deliver = self._deliver
        backend = self.backend
        assert backend is not None

        # Each handler task starts from a copy of this context, which has the handler's logger
        # as the context logger already (not set and reset per message).
        copy_context = consumer.pipeline.handler_context().copy

        def on_delivery(delivery: Delivery) -> Awaitable[None] | None:
            # The backend calls this in its receive task (on RabbitMQ one tied to the channel,
            # cancelled if the channel closes); the handler runs in a task owned by this transport.
            if self._stopping:  # sent before the broker saw our cancel: give it back
                return _settle_quietly(backend.requeue(delivery))
            tasks.spawn(deliver(consumer, backend, delivery), loop=loop, context=copy_context())
            return None

        return on_delivery

    async def _deliver(self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery) -> None:
        message_id = delivery.message_id or ""
        # this copy's deliveries (1 unless redelivered)
        count = self._settler.redeliveries.count(delivery) if delivery.redelivered else 1
        pipeline = consumer.pipeline
        body = delivery.body
        payload: str | None = None
        if len(body) <= pipeline.max_size and body.isascii():  # the usual body: decoded inline
            payload = body.decode("ascii")
        else:
            decoded = _decode_body(pipeline, delivery)
            if isinstance(decoded, Outcome):
                outcome = decoded
            else:
                payload = decoded
        if payload is not None:
            if _hooks.active is None:  # not instrumented: the pipeline itself, one coroutine less
                values = (
                    self.values_for(consumer, self._properties(delivery, count))
                    if consumer.values_wanted
                    else {}
                )
                # (this task's context has the handler's logger already: see _on_delivery_for)
                running = pipeline.deliver(payload, values, message_id=message_id, in_handler_context=True)
            else:  # the instrumentation (tomodachi.observability) reads the values too
                values = self.values_for(consumer, self._properties(delivery, count))
                running = pipeline(payload, values, message_id=message_id)
            try:
                outcome = await running
            except asyncio.CancelledError:
                # Not finished within the grace period: give the message back to the queue.
                await _settle_quietly(backend.requeue(delivery))
                raise
        settler = self._settler
        if outcome is HANDLED and settler.unwatched():  # the usual case, kept cheap
            try:
                await backend.ack(delivery)
            except backend.settle_errors as exc:
                channel_closed(consumer, delivery, exc)
            else:
                settler.acked(consumer, backend, delivery, count, outcome)
            return
        await settler.settle(consumer, backend, delivery, count, outcome)

    @staticmethod
    def _properties(delivery: Delivery, count: int) -> AmqpProperties:
        first = origin(delivery)  # a retried copy: where the message was first published
        return AmqpProperties(
            delivery.message_id,
            delivery.headers,
            delivery.redelivered,
            delivery.delivery_tag,
            failed_attempts(delivery) + count,
            delivery.content_type,
            first[0] if first else delivery.exchange,
            first[1] if first else delivery.routing_key,
        )

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
