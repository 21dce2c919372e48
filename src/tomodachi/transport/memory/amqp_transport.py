"""``@tomodachi.amqp`` handlers on the in-memory broker (RabbitMQ semantics, in-process).

Same names, routing and settling as the RabbitMQ backend: queues named as the original names
them, topic routing with ``*`` and ``#``, prefetch, ack after success, requeue with the
redelivered flag on retry, dead-letter exchange or a logged drop when a message can never
succeed. Stop: stop intake, drain in-flight handlers within the grace period, return unfinished
deliveries to their queue.
"""

from __future__ import annotations

from tomodachi._tasks import TaskTracker
from tomodachi.messaging.pipeline import Outcome, Settle
from tomodachi.runtime import Runtime
from tomodachi.service import Service
from tomodachi.transport.amqp.transport import AmqpConsumer, AmqpProperties, AmqpTransport, Disposition
from tomodachi.transport.memory import amqp_broker as model
from tomodachi.transport.memory.broker import MemoryBroker
from tomodachi.transport.memory.delivery_log import Attempt

__all__ = ["MemoryAmqpTransport"]

_RESULTS = {
    Disposition.ACK: "handled",
    Disposition.REQUEUE: "retry",
    Disposition.DEAD_LETTER: "dead_lettered",
}


class MemoryAmqpTransport(AmqpTransport):
    """The AMQP transport of one service on the run's :class:`MemoryBroker`."""

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.broker = MemoryBroker.of(runtime)
        self._subscriptions: list[tuple[AmqpConsumer, model.AmqpConsumer]] = []
        self._loops = TaskTracker()

    async def start(self) -> None:
        options = self.service.options.amqp
        amqp = self.broker.amqp
        dlx = options.dead_letter_exchange
        if dlx:
            amqp.declare_exchange(dlx)
        for consumer in self.consumers:
            if consumer.exchange:
                amqp.declare_exchange(consumer.exchange)
            amqp.declare_queue(consumer.queue, dead_letter_exchange=dlx)
            amqp.bind(consumer.queue, consumer.exchange, consumer.binding_key)
            if not consumer.competing and amqp.consumer_count(consumer.queue):
                from tomodachi.transport.amqp.errors import AmqpTooManyConsumersException

                raise AmqpTooManyConsumersException(f"queue {consumer.queue!r} already has a consumer")
            subscription = amqp.consume(consumer.queue, prefetch=options.qos.queue_prefetch_count)
            self._subscriptions.append((consumer, subscription))
        # Consuming starts before ``_started_service``, as on RabbitMQ (and in the original).
        for consumer, subscription in self._subscriptions:
            self._loops.spawn(self._consume(consumer, subscription), name=f"amqp:{consumer.handler.name}")

    async def _consume(self, consumer: AmqpConsumer, subscription: model.AmqpConsumer) -> None:
        while True:
            try:
                delivery = await subscription.get()
            except model.ConsumerCancelled:
                return
            self.tasks.spawn(self._process(consumer, subscription, delivery))

    async def _process(
        self, consumer: AmqpConsumer, subscription: model.AmqpConsumer, delivery: model.AmqpDelivery
    ) -> None:
        properties = AmqpProperties(
            message_id=delivery.message_id,
            headers=dict(delivery.headers),
            redelivered=delivery.redelivered,
            delivery_tag=delivery.delivery_tag,
            delivery_count=delivery.delivery_count,
            exchange=delivery.exchange,
            routing_key=delivery.routing_key,
        )
        try:
            payload = delivery.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            consumer.pipeline.logger.warning(
                "undecodable message (not UTF-8)", message_id=delivery.message_id
            )
            outcome = Outcome(Settle.DEAD_LETTER, "undecodable", exc)
        else:
            outcome = await consumer.pipeline(
                payload, self.values_for(consumer, properties), message_id=delivery.message_id
            )
        disposition = self.disposition(consumer, outcome, delivery.delivery_count, delivery.message_id)
        result = _RESULTS[disposition]
        if disposition is Disposition.ACK:
            subscription.ack(delivery.delivery_tag)
        elif disposition is Disposition.REQUEUE:
            subscription.nack(delivery.delivery_tag, requeue=True)
        else:
            subscription.nack(delivery.delivery_tag, requeue=False)
            if not self.service.options.amqp.dead_letter_exchange:
                self.log_dropped(consumer, delivery.message_id, outcome)
                result = "dropped"
        self.broker.log.add(
            Attempt(
                message_ids=frozenset((delivery.message_id,)),
                service=self.service.name,
                handler=consumer.handler.name,
                delivery=delivery.delivery_count,
                result=result,
                reason=outcome.reason,
                error=outcome.error,
            )
        )

    async def stop(self) -> None:
        await self._loops.cancel_all()  # stop intake: no new deliveries
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log_cancelled(len(cancelled))
        for _, subscription in self._subscriptions:
            subscription.cancel()  # unacked (unfinished) deliveries return to the queue

    def _log_cancelled(self, count: int) -> None:
        from tomodachi.logging import get_logger

        get_logger("tomodachi.amqp").warning(
            "handlers still running at the end of the grace period were cancelled; "
            "their messages return to the queue",
            count=count,
            grace_period=self.grace_period,
        )

    async def close(self) -> None:
        await self._loops.cancel_all()
        for _, subscription in self._subscriptions:
            if not subscription.cancelled:
                subscription.cancel()
