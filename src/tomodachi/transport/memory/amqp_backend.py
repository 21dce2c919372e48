"""The in-memory backend of ``@tomodachi.amqp`` and ``tomodachi.amqp_publish``.

:class:`MemoryAmqpBackend` implements :class:`~tomodachi.transport.amqp.backend.AmqpBackend` on
the run's :class:`~tomodachi.transport.memory.broker.MemoryBroker` (its AMQP model,
:mod:`.amqp_broker`): declarations, consumers with their prefetch limit, ack / nack. Each
consumer's receive task takes the model's next delivery and hands it to the transport, which
runs the same code as on RabbitMQ. Settled deliveries are recorded in the broker's delivery log
(what ``tomodachi.testing`` waits on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tomodachi.tasks import TaskTracker
from tomodachi.transport.amqp.backend import Delivery, OnDelivery
from tomodachi.transport.memory import amqp_broker as model
from tomodachi.transport.memory.broker import MemoryBroker
from tomodachi.transport.memory.delivery_log import Attempt

if TYPE_CHECKING:
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["MemoryAmqpBackend"]


class MemoryAmqpBackend:
    """One service's link to the in-memory AMQP broker of its run."""

    settle_errors: tuple[type[BaseException], ...] = ()
    records_settled = True

    def __init__(self, service: Service, runtime: Runtime) -> None:
        self._service_name = service.name
        self._prefetch = int(service.options.amqp.qos.queue_prefetch_count)
        self._broker = MemoryBroker.of(runtime)
        self._consumers: list[model.QueueConsumer] = []
        self._receivers = TaskTracker()

    @property
    def ready(self) -> bool:
        return True

    async def start(self, topology: Callable[[], Awaitable[None]]) -> None:
        await topology()

    # -- topology ----------------------------------------------------------------------------
    async def declare_exchange(self, name: str) -> None:
        if name:  # "" is the default exchange: it always exists
            self._broker.amqp.declare_exchange(name)

    async def declare_queue(self, name: str, *, ttl: int | None, dead_letter_exchange: str | None) -> int:
        amqp = self._broker.amqp
        amqp.declare_queue(name, dead_letter_exchange=dead_letter_exchange)
        return amqp.consumer_count(name)

    async def bind(self, queue: str, exchange: str, binding_key: str) -> None:
        self._broker.amqp.bind(queue, exchange, binding_key)

    async def declare_retry_queue(self, name: str, *, delay_ms: int, target: str, expires_ms: int) -> None:
        # x-expires is not modelled: a run is short, and the queue is empty between retries.
        self._broker.amqp.declare_queue(
            name, dead_letter_exchange="", dead_letter_routing_key=target, message_ttl=delay_ms
        )

    async def republish(
        self, delivery: Delivery, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> None:
        amqp = self._broker.amqp
        amqp.publish(exchange, routing_key, delivery.body, message_id=delivery.message_id, headers=headers)

    # -- consuming ---------------------------------------------------------------------------
    async def consume(self, queue: str, on_delivery: OnDelivery) -> None:
        consumer = self._broker.amqp.consume(queue, prefetch=self._prefetch)
        self._consumers.append(consumer)
        self._receivers.spawn(self._receive(consumer, on_delivery), name=f"amqp:{queue}")

    @staticmethod
    async def _receive(consumer: model.QueueConsumer, on_delivery: OnDelivery) -> None:
        while True:
            try:
                message = await consumer.get()
            except model.ConsumerCancelled:
                return
            pending = on_delivery(
                Delivery(
                    message.body,
                    message.message_id,
                    message.headers,
                    message.redelivered,
                    message.delivery_tag,
                    message.delivery_count,
                    None,
                    message.exchange,
                    message.routing_key,
                    (consumer, message.delivery_tag),
                )
            )
            if pending is not None:
                await pending

    async def stop_consuming(self) -> None:
        await self._receivers.cancel_all()

    # -- settling ----------------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        consumer, tag = delivery.handle
        consumer.ack(tag)

    async def requeue(self, delivery: Delivery) -> None:
        consumer, tag = delivery.handle
        consumer.nack(tag, requeue=True)

    async def reject(self, delivery: Delivery) -> None:
        consumer, tag = delivery.handle
        consumer.nack(tag, requeue=False)

    def settled(
        self, handler: str, delivery: Delivery, delivery_count: int, result: str, outcome: Outcome
    ) -> None:
        self._broker.log.add(
            Attempt(
                message_ids=frozenset((delivery.message_id or "",)),
                service=self._service_name,
                handler=handler,
                delivery=delivery_count,
                result=result,
                reason=outcome.reason,
                error=outcome.error,
            )
        )

    async def close(self) -> None:
        """Cancel the consumers: unacknowledged deliveries go back to the head of their queues."""
        await self._receivers.cancel_all()
        for consumer in self._consumers:
            consumer.cancel()

    @classmethod
    async def publish(
        cls,
        service: Any,
        runtime: Runtime,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        broker = MemoryBroker.of(runtime)
        broker.publish_amqp(exchange, routing_key, body, message_id=message_id, headers=headers)
