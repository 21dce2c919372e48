"""The RabbitMQ backend of ``@tomodachi.amqp`` and ``tomodachi.amqp_publish``, on aio-pika.

Per service, one :class:`RabbitMQTransport` serves every ``@amqp`` handler on one channel of the
run's shared connection for the service's connection options (:mod:`.connection`):

- ``start()`` connects (bounded, one-line error), declares the exchanges (topic, durable), the
  dead-letter exchange when ``amqp.dead_letter_exchange`` is set, the queues (durable,
  ``x-expires`` from ``amqp.queue_ttl``, ``x-dead-letter-exchange``) and their bindings, and sets
  the prefetch limits; a non-competing queue that already has a consumer fails the start;
- ``started()`` starts the consumers (manual acknowledgement);
- each delivery runs in one task: the body is decoded as UTF-8, the message pipeline runs, and
  the delivery is settled by :meth:`AmqpTransport.disposition`: ack, nack with requeue, or
  reject without requeue (RabbitMQ then routes it to the dead-letter exchange, if any);
- ``stop()`` cancels the consumers, waits for in-flight handlers within the grace period,
  cancels the rest and returns their messages to the queue; ``close()`` closes the channel.

After a broker outage the robust channel re-declares the topology and restarts the consumers;
deliveries that were in flight are redelivered by the broker (their late acks are discarded).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue, ExchangeType
from aio_pika.exceptions import AMQPError, ChannelClosed, ChannelInvalidStateError
from aiormq.exceptions import ChannelLockedResource

from tomodachi._tasks import gather_or_cancel
from tomodachi.logging import get_logger
from tomodachi.messaging.pipeline import Outcome, Settle
from tomodachi.transport.amqp.connection import (
    CLOSE_TIMEOUT,
    PREDECLARED_EXCHANGES,
    AmqpConnection,
    get_connection,
)
from tomodachi.transport.amqp.errors import (
    AmqpChannelClosed,
    AmqpConnectionException,
    AmqpExclusiveQueueLockedException,
    AmqpTooManyConsumersException,
)
from tomodachi.transport.amqp.transport import AmqpConsumer, AmqpProperties, AmqpTransport, Disposition

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["REDELIVERY_MEMORY", "RabbitMQTransport", "publish"]

#: How many requeued messages a transport remembers to count their redeliveries (see
#: :class:`_RedeliveryCounter`).
REDELIVERY_MEMORY = 10_000
#: Seconds declaring the topology (and starting the consumers) may take at start-up.
START_TIMEOUT = 30.0

_UNDECODABLE = Outcome(Settle.DEAD_LETTER, "undecodable")
_SETTLE_ERRORS = (AMQPError, ChannelInvalidStateError, ConnectionError, RuntimeError)


class _RedeliveryCounter:
    """How many times a message was delivered, where the broker does not say.

    Quorum queues put the count in the ``x-delivery-count`` header; classic queues only flag a
    redelivery. For those, the transport remembers the delivery count of each message it
    requeues (keyed by ``message_id``, or by the body when there is none), in memory, in this
    process, for the last :data:`REDELIVERY_MEMORY` requeued messages. A redelivered message it
    does not remember (requeued by another process, or forgotten) counts as its 2nd delivery.
    """

    __slots__ = ("_counts", "_limit")

    def __init__(self, limit: int) -> None:
        self._counts: OrderedDict[Hashable, int] = OrderedDict()
        self._limit = limit

    def count(self, message: AbstractIncomingMessage) -> int:
        """The delivery count of a redelivered message (the caller handles first deliveries)."""
        header = message.headers.get("x-delivery-count")
        if isinstance(header, int) and not isinstance(header, bool):
            return header + 1
        return self._counts.get(_identity(message), 1) + 1

    def requeued(self, message: AbstractIncomingMessage, count: int) -> None:
        key = _identity(message)
        self._counts[key] = count
        self._counts.move_to_end(key)
        if len(self._counts) > self._limit:
            self._counts.popitem(last=False)

    def settled(self, message: AbstractIncomingMessage) -> None:
        """Forget a redelivered message once it was acked or dead-lettered."""
        if self._counts:
            self._counts.pop(_identity(message), None)


def _identity(message: AbstractIncomingMessage) -> Hashable:
    return message.message_id or hash(message.body)


class RabbitMQTransport(AmqpTransport):
    """Serves a service's ``@amqp`` handlers from RabbitMQ (see the module docstring)."""

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self._connection: AmqpConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._queues: list[tuple[AmqpConsumer, AbstractRobustQueue]] = []
        self._consumer_tags: list[tuple[AbstractRobustQueue, str]] = []
        self._stopping = False
        self._dead_letter_exchange: str | None = None
        self._redeliveries = _RedeliveryCounter(REDELIVERY_MEMORY)
        self._log = get_logger("tomodachi.amqp")

    @property
    def ready(self) -> bool:
        """False before start, while the broker connection is down, and once stopping."""
        connection = self._connection
        return (
            self._channel is not None and not self._stopping and connection is not None and connection.ready
        )

    # -- start -------------------------------------------------------------------------------
    async def start(self) -> None:
        connection = get_connection(self.runtime, self.service.options)
        await connection.connect()
        self._connection = connection
        self._dead_letter_exchange = self.service.options.amqp.dead_letter_exchange or None
        try:
            # Bounded: a robust channel waits for a lost connection to come back.
            async with asyncio.timeout(START_TIMEOUT):
                channel = await connection.open_channel()
                self._channel = channel
                await self._declare_topology(channel)
                # Consumers start before ``_started_service``, as in the original: a service may
                # wait there for a message it publishes to itself.
                await self._consume_all()
        except TimeoutError:
            raise AmqpConnectionException(
                f"Unable to connect [amqp] to {connection.params.address} (timed out declaring queues)"
            ) from None
        except (AMQPError, ConnectionError, RuntimeError) as exc:  # RuntimeError: aio-pika channel state
            raise AmqpConnectionException(
                f"Unable to connect [amqp] to {connection.params.address} ({connection.describe(exc)})"
            ) from None

    async def _declare_topology(self, channel: AbstractRobustChannel) -> None:
        """Prefetch, exchanges, queues and bindings; the robust channel restores them after outages."""
        options = self.service.options.amqp
        await self._set_qos(channel)
        channel.reopen_callbacks.add(self._on_channel_reopened)
        dlx = self._dead_letter_exchange
        if dlx and dlx not in PREDECLARED_EXCHANGES:
            await self._declare(
                "dead-letter exchange",
                dlx,
                channel.declare_exchange(dlx, ExchangeType.TOPIC, durable=True, auto_delete=False),
            )
        arguments: dict[str, Any] = {}
        if options.queue_ttl:
            arguments["x-expires"] = int(options.queue_ttl) * 1000
        if dlx:
            arguments["x-dead-letter-exchange"] = dlx
        declared: set[str] = set()
        for consumer in self.consumers:
            if consumer.declare_exchange and consumer.exchange not in declared:
                await self._declare(
                    "exchange",
                    consumer.exchange,
                    channel.declare_exchange(
                        consumer.exchange, ExchangeType.TOPIC, durable=True, auto_delete=False
                    ),
                )
                declared.add(consumer.exchange)
            queue = await self._declare(
                "queue",
                consumer.queue,
                channel.declare_queue(
                    consumer.queue,
                    durable=True,
                    exclusive=False,
                    auto_delete=False,
                    arguments=arguments or None,
                ),
            )
            consumers = queue.declaration_result.consumer_count or 0
            if not consumer.competing and consumers:
                raise AmqpTooManyConsumersException(
                    f"queue {consumer.queue!r} of handler {consumer.handler.name!r} already has "
                    f"{consumers} consumer(s): a non-competing queue serves one service instance "
                    "(use competing=True to share the work between instances)"
                )
            await self._declare(
                "binding of queue", consumer.queue, queue.bind(consumer.exchange, consumer.binding_key)
            )
            self._queues.append((consumer, queue))

    async def _set_qos(self, channel: AbstractRobustChannel) -> None:
        qos = self.service.options.amqp.qos
        # RabbitMQ applies both limits: per consumer (global_=False) and for the whole channel
        # (global_=True). The robust channel re-applies the last one set after a reconnection;
        # the channel-wide one is re-applied by `_on_channel_reopened`.
        if qos.global_prefetch_count:
            await channel.set_qos(prefetch_count=int(qos.global_prefetch_count), global_=True)
        await channel.set_qos(prefetch_count=int(qos.queue_prefetch_count), global_=False)

    async def _on_channel_reopened(self, channel: AbstractRobustChannel | None) -> None:
        global_prefetch = int(self.service.options.amqp.qos.global_prefetch_count)
        if global_prefetch and channel is not None:
            try:
                underlay = await channel.get_underlay_channel()
                await underlay.basic_qos(prefetch_count=global_prefetch, global_=True)
            except _SETTLE_ERRORS as exc:
                self._log.debug("could not re-apply the channel prefetch limit", error=repr(exc))

    async def _declare(self, what: str, name: str, declaration: Awaitable[Any]) -> Any:
        """Await a declaration; a broker refusal becomes a one-line start-up error."""
        try:
            return await declaration
        except ChannelLockedResource:
            raise AmqpExclusiveQueueLockedException(
                f"{what} {name!r} is locked by another connection (an exclusive queue)"
            ) from None
        except ChannelClosed as exc:
            reply = _reply_text(exc)
            raise AmqpChannelClosed(
                f"cannot declare {what} {name!r}: {reply}"
                + (
                    " (it exists with other settings: delete it, or change the options back)"
                    if "inequivalent" in reply
                    else ""
                )
            ) from None

    async def _consume_all(self) -> None:
        """Start every consumer of the service at once (one ``basic.consume`` round trip, not N)."""

        async def consume(consumer: AmqpConsumer, queue: AbstractRobustQueue) -> None:
            tag = await queue.consume(self._on_message_for(consumer), no_ack=False)
            self._consumer_tags.append((queue, tag))

        await gather_or_cancel(*(consume(consumer, queue) for consumer, queue in self._queues))

    # -- per delivery ------------------------------------------------------------------------
    def _on_message_for(self, consumer: AmqpConsumer) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        spawn = self.tasks.spawn
        deliver = self._deliver

        async def on_message(message: AbstractIncomingMessage) -> None:
            # aio-pika calls this in a task tied to the channel (cancelled if the channel closes);
            # the handler runs in a task owned by this transport, so an outage or a stop does not
            # cancel user code: only the grace period does.
            if self._stopping:  # sent before the broker saw our basic.cancel: give it back
                await _settle_quietly(message.nack(requeue=True))
                return
            spawn(deliver(consumer, message))

        return on_message

    async def _deliver(self, consumer: AmqpConsumer, message: AbstractIncomingMessage) -> None:
        message_id = message.message_id
        redelivered = bool(message.redelivered)
        count = self._redeliveries.count(message) if redelivered else 1
        try:
            payload = message.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            consumer.pipeline.logger.warning(
                "undecodable message", message_id=message_id, error=f"body is not UTF-8 ({exc.reason})"
            )
            outcome = _UNDECODABLE
        else:
            properties = AmqpProperties(
                message_id,
                message.headers,
                redelivered,
                message.delivery_tag,
                count,
                message.content_type,
                message.exchange or "",
                message.routing_key or "",
            )
            try:
                outcome = await consumer.pipeline(
                    payload, self.values_for(consumer, properties), message_id=message_id or ""
                )
            except asyncio.CancelledError:
                # Not finished within the grace period: give the message back to the queue.
                await _settle_quietly(message.nack(requeue=True))
                raise
        disposition = self.disposition(consumer, outcome, count, message_id)
        try:
            if disposition is Disposition.ACK:
                await message.ack()
                if redelivered:
                    self._redeliveries.settled(message)
            elif disposition is Disposition.REQUEUE:
                self._redeliveries.requeued(message, count)
                await message.nack(requeue=True)
            else:
                if redelivered:
                    self._redeliveries.settled(message)
                await message.reject(requeue=False)
                if not self._dead_letter_exchange:
                    self.log_dropped(consumer, message_id, outcome)
        except _SETTLE_ERRORS as exc:
            # The channel closed (broker outage) while the handler ran: the broker has already
            # put the message back and delivers it again after the reconnection.
            consumer.pipeline.logger.debug(
                "delivery not settled: channel closed; the broker redelivers it",
                message_id=message_id,
                error=repr(exc),
            )

    # -- stop --------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Cancel the consumers, drain in-flight handlers within the grace period, requeue the rest."""
        self._stopping = True
        tags, self._consumer_tags = self._consumer_tags, []
        connection = self._connection
        if tags and connection is not None and connection.ready:
            # Cancelling also drops the consumers from what the robust channel would restore.
            # While the broker is unreachable nothing arrives anyway, and the channel is closed
            # (never to be restored) right after the drain.
            results = await asyncio.gather(
                *(asyncio.wait_for(queue.cancel(tag), CLOSE_TIMEOUT) for queue, tag in tags),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    self._log.debug("could not cancel a consumer", error=repr(result))
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
        """Close the channel: messages still unacknowledged go back to their queues."""
        channel, self._channel = self._channel, None
        self._queues.clear()
        if channel is None:
            return
        try:
            await asyncio.wait_for(channel.close(), CLOSE_TIMEOUT)
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and _cancelling():
                raise
            self._log.debug("error closing channel", error=repr(exc))


async def _settle_quietly(settle: Awaitable[None]) -> None:
    try:
        await asyncio.wait_for(settle, 1.0)
    except (Exception, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and _cancelling():
            raise


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _reply_text(exc: ChannelClosed) -> str:
    args = [a for a in exc.args if isinstance(a, str)]
    return " ".join(args[-1].split()) if args else type(exc).__name__


# -- publishing --------------------------------------------------------------------------------
def _publisher_cache() -> dict[int, tuple[Any, AmqpConnection, float]]:
    return {}


def publish(
    service: Any, runtime: Runtime, exchange: str, routing_key: str, body: bytes, *, message_id: str
) -> Awaitable[None]:
    """Publish *body* (routing key already encoded) on the run's connection for *service*'s options.

    Raises :class:`~tomodachi.transport.amqp.errors.AmqpPublishError` when the broker is not
    reachable (or does not confirm) within ``amqp.publish_timeout`` seconds.
    """
    options = service.options
    # The connection (and timeout) of a service's options, looked up once per options object
    # (Options is mutable, so unhashable: the cache checks identity).
    publishers = runtime.resource("tomodachi.amqp.publishers", _publisher_cache)
    cached = publishers.get(id(options))
    if cached is None or cached[0] is not options:
        cached = (options, get_connection(runtime, options), float(options.amqp.publish_timeout))
        publishers[id(options)] = cached
    _options, connection, timeout = cached
    # Returned, not awaited here: the caller awaits it (one coroutine less per publish).
    return connection.publish(exchange, routing_key, body, message_id=message_id, timeout=timeout)
