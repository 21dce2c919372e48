"""The RabbitMQ backend of ``@tomodachi.amqp`` and ``tomodachi.amqp_publish``, on aio-pika.

:class:`RabbitMQBackend` implements :class:`~tomodachi.transport.amqp.backend.AmqpBackend` for
one service, on one channel of the run's shared robust connection for the service's connection
options (:mod:`.connection`): it declares durable topic exchanges and durable queues
(``x-expires``, ``x-dead-letter-exchange``) with their bindings, sets the prefetch limits
(``amqp.qos``, re-applied after a reconnection), consumes with manual acknowledgement and
settles with ack, nack-with-requeue or reject. The transport decides everything else.

The consumers are registered on the robust channel's aiormq channel, without aio-pika's
per-delivery message object and task (:mod:`.consumers`). After a broker outage the robust channel
re-declares the topology and the consumers start again; deliveries that were in flight are
redelivered by the broker (their late acks are discarded).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractRobustChannel, AbstractRobustQueue, ExchangeType
from aio_pika.exceptions import AMQPError, ChannelClosed, ChannelInvalidStateError
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import ChannelLockedResource
from pamqp.commands import Basic

from tomodachi.logging import get_logger
from tomodachi.transport._lru import LruCache
from tomodachi.transport.amqp.backend import Delivery, OnDelivery
from tomodachi.transport.amqp.connection import (
    CLOSE_TIMEOUT,
    PREDECLARED_EXCHANGES,
    AmqpConnection,
    get_connection,
)
from tomodachi.transport.amqp.consumers import ChannelConsumers
from tomodachi.transport.amqp.errors import (
    AmqpChannelClosed,
    AmqpConnectionException,
    AmqpExclusiveQueueLockedException,
)

if TYPE_CHECKING:
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["RabbitMQBackend", "publish"]

#: Seconds declaring the topology (and starting the consumers) may take at start-up.
START_TIMEOUT = 30.0

_SETTLE_ERRORS = (AMQPError, ChannelInvalidStateError, ConnectionError, RuntimeError)
_PERSISTENT = 2


class RabbitMQBackend:
    """One service's channel on RabbitMQ (see the module docstring)."""

    settle_errors = _SETTLE_ERRORS
    records_settled = False  # settled() is a no-op here

    def __init__(self, service: Service, runtime: Runtime) -> None:
        self._options = service.options
        self._runtime = runtime
        self._connection: AmqpConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._queues: dict[str, AbstractRobustQueue] = {}
        self._log = get_logger("tomodachi.amqp")
        self._consumers = ChannelConsumers(self._log)

    @property
    def ready(self) -> bool:
        connection = self._connection
        return self._channel is not None and connection is not None and connection.ready

    # -- start -------------------------------------------------------------------------------
    async def start(self, topology: Callable[[], Awaitable[None]]) -> None:
        connection = get_connection(self._runtime, self._options)
        await connection.connect()
        self._connection = connection
        try:
            # Bounded: a robust channel waits for a lost connection to come back.
            async with asyncio.timeout(START_TIMEOUT):
                channel = await connection.open_channel()
                self._channel = channel
                await self._set_qos(channel)
                channel.reopen_callbacks.add(self._on_channel_reopened)
                await topology()
        except TimeoutError:
            raise AmqpConnectionException(
                f"Unable to connect [amqp] to {connection.params.address} (timed out declaring queues)"
            ) from None
        except (AMQPError, ConnectionError, RuntimeError) as exc:  # RuntimeError: aio-pika channel state
            raise AmqpConnectionException(
                f"Unable to connect [amqp] to {connection.params.address} ({connection.describe(exc)})"
            ) from None

    async def _set_qos(self, channel: AbstractRobustChannel) -> None:
        qos = self._options.amqp.qos
        # RabbitMQ applies both limits: per consumer (global_=False) and for the whole channel
        # (global_=True). The robust channel re-applies the last one set after a reconnection;
        # the channel-wide one is re-applied by `_on_channel_reopened`.
        if qos.global_prefetch_count:
            await channel.set_qos(prefetch_count=int(qos.global_prefetch_count), global_=True)
        await channel.set_qos(prefetch_count=int(qos.queue_prefetch_count), global_=False)

    async def _on_channel_reopened(self, channel: AbstractRobustChannel | None) -> None:
        if channel is None:
            return
        global_prefetch = int(self._options.amqp.qos.global_prefetch_count)
        if global_prefetch:
            try:
                underlay = await channel.get_underlay_channel()
                await underlay.basic_qos(prefetch_count=global_prefetch, global_=True)
            except _SETTLE_ERRORS as exc:
                self._log.debug("could not re-apply the channel prefetch limit", error=repr(exc))
        try:
            await self._consumers.restart(channel)
        except _SETTLE_ERRORS as exc:  # the channel closed again: it reopens, and this runs again
            self._log.debug("could not restart the consumers", error=repr(exc))

    def _open_channel(self) -> AbstractRobustChannel:
        if self._channel is None:  # pragma: no cover - the transport declares inside start()
            raise RuntimeError("declarations happen inside start()")
        return self._channel

    # -- topology ----------------------------------------------------------------------------
    async def declare_exchange(self, name: str) -> None:
        if name in PREDECLARED_EXCHANGES:
            return
        channel = self._open_channel()
        what = "dead-letter exchange" if name == self._options.amqp.dead_letter_exchange else "exchange"
        await _declare(
            what, name, channel.declare_exchange(name, ExchangeType.TOPIC, durable=True, auto_delete=False)
        )

    async def declare_queue(self, name: str, *, ttl: int | None, dead_letter_exchange: str | None) -> int:
        arguments: dict[str, Any] = {}
        if ttl:
            arguments["x-expires"] = ttl * 1000
        if dead_letter_exchange:
            arguments["x-dead-letter-exchange"] = dead_letter_exchange
        queue: AbstractRobustQueue = await _declare(
            "queue",
            name,
            self._open_channel().declare_queue(
                name, durable=True, exclusive=False, auto_delete=False, arguments=arguments or None
            ),
        )
        self._queues[name] = queue
        return queue.declaration_result.consumer_count or 0

    async def bind(self, queue: str, exchange: str, binding_key: str) -> None:
        await _declare("binding of queue", queue, self._queues[queue].bind(exchange, binding_key))

    async def declare_retry_queue(self, name: str, *, delay_ms: int, target: str, expires_ms: int) -> None:
        arguments: dict[str, Any] = {
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": target,
            "x-expires": expires_ms,
        }
        await _declare(
            "retry queue",
            name,
            self._open_channel().declare_queue(
                name, durable=True, exclusive=False, auto_delete=False, arguments=arguments
            ),
        )

    def republish(
        self, delivery: Delivery, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> Awaitable[None]:
        message: DeliveredMessage = delivery.handle
        received = message.header.properties
        properties = Basic.Properties(
            content_type=received.content_type,
            content_encoding=received.content_encoding,
            headers=headers,
            delivery_mode=_PERSISTENT,
            priority=received.priority,
            correlation_id=received.correlation_id,
            reply_to=received.reply_to,
            message_id=received.message_id,
            timestamp=received.timestamp,
            message_type=received.message_type,
            app_id=received.app_id,
        )
        connection = self._connection
        if connection is None:  # pragma: no cover - only settled deliveries are republished
            raise RuntimeError("republish before start()")
        return connection.publish(
            exchange,
            routing_key,
            delivery.body,
            message_id=received.message_id or "",
            timeout=float(self._options.amqp.publish_timeout),
            properties=properties,
        )

    # -- consuming ---------------------------------------------------------------------------
    async def consume(self, queue: str, on_delivery: OnDelivery) -> None:
        async def on_message(message: DeliveredMessage) -> None:
            # aiormq calls this in a task of the channel's (cancelled if the channel closes);
            # on_delivery hands the message to a task of the transport's.
            properties = message.header.properties
            frame: Basic.Deliver = message.delivery  # type: ignore[assignment]  # a consumer's: Deliver
            pending = on_delivery(
                Delivery(
                    message.body,
                    properties.message_id,
                    properties.headers or {},
                    bool(frame.redelivered),
                    frame.delivery_tag,
                    None,  # classic queues do not count (quorum ones: the x-delivery-count header)
                    properties.content_type,
                    frame.exchange or "",
                    frame.routing_key or "",
                    message,
                )
            )
            if pending is not None:
                await pending

        await self._consumers.add(self._open_channel(), self._queues[queue].name, on_message)

    async def stop_consuming(self) -> None:
        # Cancelled only while the broker is reachable: during an outage nothing arrives anyway,
        # and the channel is closed (never to be restored) right after the drain.
        connection = self._connection
        await self._consumers.stop(cancel=connection is not None and connection.ready)

    # -- settling ----------------------------------------------------------------------------
    # On the channel the message came on: after a reconnection that one is closed, the call
    # raises ChannelInvalidStateError (a settle error) and the broker redelivers the message.
    def ack(self, delivery: Delivery) -> Awaitable[None]:
        message: DeliveredMessage = delivery.handle
        return message.channel.basic_ack(delivery.delivery_tag or 0)

    def requeue(self, delivery: Delivery) -> Awaitable[None]:
        message: DeliveredMessage = delivery.handle
        return message.channel.basic_nack(delivery.delivery_tag or 0, requeue=True)

    def reject(self, delivery: Delivery) -> Awaitable[None]:
        message: DeliveredMessage = delivery.handle
        return message.channel.basic_reject(delivery.delivery_tag or 0, requeue=False)

    def settled(
        self, handler: str, delivery: Delivery, delivery_count: int, result: str, outcome: Outcome
    ) -> None:
        """Nothing to observe: RabbitMQ keeps no log of deliveries."""

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

    @classmethod
    def publish(
        cls,
        service: Any,
        runtime: Runtime,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: dict[str, str] | None = None,
    ) -> Awaitable[None]:
        return publish(service, runtime, exchange, routing_key, body, message_id=message_id, headers=headers)


async def _declare(what: str, name: str, declaration: Awaitable[Any]) -> Any:
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


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _reply_text(exc: ChannelClosed) -> str:
    args = [a for a in exc.args if isinstance(a, str)]
    return " ".join(args[-1].split()) if args else type(exc).__name__


# -- publishing --------------------------------------------------------------------------------
#: How many options objects the publish path remembers the connection and timeout of.
PUBLISHER_CACHE_SIZE = 64


def _publisher_cache() -> LruCache[int, tuple[Any, AmqpConnection, float]]:
    return LruCache(PUBLISHER_CACHE_SIZE)


def publish(
    service: Any,
    runtime: Runtime,
    exchange: str,
    routing_key: str,
    body: bytes,
    *,
    message_id: str,
    headers: dict[str, str] | None = None,
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
    if headers:
        table: dict[str, Any] = dict(headers)
        properties = Basic.Properties(message_id=message_id, delivery_mode=2, headers=table)
        return connection.publish(
            exchange, routing_key, body, message_id=message_id, timeout=timeout, properties=properties
        )
    return connection.publish(exchange, routing_key, body, message_id=message_id, timeout=timeout)
