"""Dead letters on the in-memory broker: ``app.dead_letters(...)`` and ``app.redrive(...)``.

A handler's dead-letter queue is found through its transport's
:func:`~tomodachi.messaging.dead_letters.routes_of` (the queue and the dead-letter queue each
``@amqp`` and ``@aws_sns_sqs`` handler reports), or named directly (``queue=``). Listing leaves
the messages in the queue (as on SQS, each is received and made visible again, so its receive
count goes up by one); a re-drive moves them back to the handler's queue, oldest first (at most
those the queue held when it began; an AMQP message loses the transport's ``x-tomodachi-attempts``
and ``x-tomodachi-dead-letter-*`` headers, so it gets the handler's retries afresh). On
RabbitMQ and SQS, ``tomodachi.dlq`` does the same against the real brokers.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tomodachi.messaging.dead_letters import DeadLetterRoute, routes_of
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.testing.outbound import decode, unwrap_sqs_body

if TYPE_CHECKING:
    from tomodachi.service import Service
    from tomodachi.transport.memory.amqp_broker import AmqpDelivery, QueueConsumer
    from tomodachi.transport.memory.broker import MemoryBroker
    from tomodachi.transport.memory.sqs_queue import SqsMessage, SqsQueue

__all__ = ["DeadLetterMessage", "DeadLetterQueue", "find_queue", "list_dead_letters", "move_dead_letters"]

#: How long a listing or re-drive holds an SQS message before making it visible again or deleting it.
_HOLD_SECONDS = 3600
#: How long a listing waits for a ready AMQP message it counted (a consumer of the queue may take it).
_GET_TIMEOUT = 1.0

Family = Literal["amqp", "sqs"]


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    """A dead-letter queue on the in-memory broker, and the queue its messages came from."""

    family: Family
    name: str
    source: str | None
    """The handler's queue (where :meth:`RunningServices.redrive` sends them), if known."""
    service: Service | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class DeadLetterMessage:
    """One message in a dead-letter queue of the in-memory broker (it stays there)."""

    message_id: str
    body: str
    """As stored: for SQS the notification (or ``sqs_send_message``) document, see :attr:`message`."""
    queue: str
    """The dead-letter queue."""
    headers: dict[str, Any] = field(default_factory=dict)
    """AMQP: the message headers (``x-death`` says why). SQS: the message attributes (botocore form)."""
    receive_count: int | None = None
    """SQS: ``ApproximateReceiveCount`` (listing adds one); AMQP: the deliveries so far."""
    service: Any = field(default=None, repr=False, compare=False)

    @property
    def message(self) -> str:
        """The enveloped message (unwrapped from an SNS notification or SQS send document)."""
        return unwrap_sqs_body(self.body)

    async def decoded(self, message_envelope: Any = DEFAULT, **envelope_kwargs: Any) -> Any:
        """The message as its handler receives it, decoded with the handler's service's envelope
        (or *message_envelope*); with JsonBase the data is ``(await m.decoded())["data"]``."""
        return await decode(self.service, self.message, message_envelope, envelope_kwargs)


def find_queue(
    broker: MemoryBroker,
    services: list[Service],
    transports: Any,
    handler: Any = None,
    queue: str | None = None,
) -> DeadLetterQueue:
    """The dead-letter queue of *handler* (a name or the function) among *services*, or *queue*.

    With both, *queue* is the dead-letter queue and *handler* says where a re-drive sends its
    messages (for ``amqp.dead_letter_exchange``, whose queues the user binds).
    """
    if handler is None and queue is None:
        raise TypeError("name the handler (or give queue='<dead-letter queue name>')")
    if handler is None:
        assert queue is not None
        return DeadLetterQueue(_family_of(broker, queue), queue, None, services[0] if services else None)
    name = handler if isinstance(handler, str) else getattr(handler, "__name__", str(handler))
    routes: list[tuple[DeadLetterRoute, Service]] = [
        (route, instance)
        for instance in services
        for transport in transports(instance)
        for route in routes_of(transport)
    ]
    mine = [(route, instance) for route, instance in routes if route.handler == name]
    if not mine:
        known = ", ".join(f"{r.service}.{r.handler}" for r, _ in routes) or "none"
        raise LookupError(f"no message handler {name!r} with a dead-letter route (handlers: {known})")
    route, instance = mine[0]
    if queue is not None:  # the dead-letter queue named, the handler's queue from its route
        return DeadLetterQueue(_family_of(broker, queue), queue, _plain_name(route.queue), instance)
    if route.dead_letter_queue is None:
        where = (
            f"they go to the exchange {route.dead_letter_exchange!r}: name the queue you bound to it "
            "with queue=..."
            if route.dead_letter_exchange
            else "its failed messages are dropped"
        )
        raise LookupError(f"handler {route.service}.{route.handler} has no dead-letter queue ({where})")
    family: Family = "amqp" if route.kind == "amqp" else "sqs"
    dlq = _plain_name(route.dead_letter_queue)
    _check_exists(broker, family, dlq)
    return DeadLetterQueue(family, dlq, _plain_name(route.queue), instance)


async def list_dead_letters(broker: MemoryBroker, dlq: DeadLetterQueue) -> list[DeadLetterMessage]:
    """The messages in *dlq*, oldest first; they stay in the queue.

    A FIFO queue lists at most 10 messages of each message group: as on SQS, a group's later
    messages are held back while its earlier ones are received.
    """
    if dlq.family == "sqs":
        queue = broker.sns_sqs.queue(dlq.name)
        held = await _receive_all(queue)
        for message in held:
            queue.change_visibility(message.receipt_handle, 0)
        return [_from_sqs(message, dlq) for message in held]
    consumer, deliveries = await _take_all(broker, dlq.name)
    consumer.cancel()  # every message back to the head of the queue, in order
    return [_from_amqp(delivery, dlq) for delivery in deliveries]


async def move_dead_letters(
    broker: MemoryBroker, dlq: DeadLetterQueue, to: str | None
) -> list[tuple[str, bool]]:
    """Move every message of *dlq* to the queue *to* (default: the handler's queue), oldest first.

    Returns ``(message_id, same_id)`` per message: SQS gives a moved message a new id; AMQP keeps it.
    """
    target = to if to is not None else dlq.source
    if target is None:
        raise TypeError(f"where should the messages of {dlq.name!r} go? Give to='<queue name>'")
    _check_exists(broker, dlq.family, target)
    moved: list[tuple[str, bool]] = []
    if dlq.family == "sqs":
        source, destination = broker.sns_sqs.queue(dlq.name), broker.sns_sqs.queue(target)
        # Batch by batch, each deleted before the next receive (a FIFO group's later messages are
        # held back while earlier ones are in flight); at most what the queue held at the start.
        left = source.visible_count
        while left > 0 and (batch := await source.receive(min(left, 10), 0, _HOLD_SECONDS)):
            left -= len(batch)
            for message in batch:
                moved.append((_move_sqs(source, destination, message), False))
        return moved
    consumer, deliveries = await _take_all(broker, dlq.name)
    try:
        for delivery in deliveries:
            broker.amqp.publish(
                "", target, delivery.body, message_id=delivery.message_id, headers=_fresh(delivery.headers)
            )
            consumer.ack(delivery.delivery_tag)
            moved.append((delivery.message_id, True))
    finally:
        consumer.cancel()
    return moved


# -- helpers ---------------------------------------------------------------------------------
def _move_sqs(source: SqsQueue, destination: SqsQueue, message: SqsMessage) -> str:
    """Send a copy of *message* to *destination*, then delete it from *source*; the copy's id."""
    message_id = destination.send(
        message.body,
        message.message_attributes,
        group_id=(message.group_id or "tomodachi") if destination.fifo else None,
        # A new deduplication id: the original one would make the FIFO queue drop the copy.
        deduplication_id=str(uuid.uuid4()) if destination.fifo else None,
    )
    source.delete(message.receipt_handle)
    return message_id


def _fresh(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers without the transport's count of failed attempts and its dead-letter notes:
    a re-driven message gets the handler's retries afresh (as ``tomodachi.dlq`` re-drives)."""
    return {
        key: value
        for key, value in headers.items()
        if key != "x-tomodachi-attempts" and not key.startswith("x-tomodachi-dead-letter-")
    }


def _plain_name(name_url_or_arn: str) -> str:
    from tomodachi.transport.memory.broker import queue_name_of

    return queue_name_of(name_url_or_arn)


def _family_of(broker: MemoryBroker, queue: str) -> Family:
    if broker.sns_sqs.queue_exists(queue):
        return "sqs"
    try:
        broker.amqp.queue_depth(queue)
    except ValueError:
        raise LookupError(
            f"no queue {queue!r} on the in-memory broker (dead letters on RabbitMQ and SQS: tomodachi.dlq)"
        ) from None
    return "amqp"


def _check_exists(broker: MemoryBroker, family: Family, queue: str) -> None:
    if _family_of(broker, queue) != family:  # raises LookupError for an unknown queue
        raise LookupError(f"{queue!r} is not an {family.upper()} queue on the in-memory broker")


async def _receive_all(queue: SqsQueue) -> list[SqsMessage]:
    held: list[SqsMessage] = []
    while batch := await queue.receive(10, 0, _HOLD_SECONDS):
        held.extend(batch)
    return held


async def _take_all(broker: MemoryBroker, name: str) -> tuple[QueueConsumer, list[AmqpDelivery]]:
    ready = broker.amqp.queue_depth(name)
    consumer = broker.amqp.consume(name)
    deliveries: list[AmqpDelivery] = []
    try:
        for _ in range(ready):
            async with asyncio.timeout(_GET_TIMEOUT):
                deliveries.append(await consumer.get())
    except TimeoutError:
        pass  # another consumer took the rest
    except BaseException:
        consumer.cancel()
        raise
    return consumer, deliveries


def _from_sqs(message: SqsMessage, dlq: DeadLetterQueue) -> DeadLetterMessage:
    return DeadLetterMessage(
        message.message_id,
        message.body,
        dlq.name,
        dict(message.message_attributes),
        message.receive_count,
        dlq.service,
    )


def _from_amqp(delivery: AmqpDelivery, dlq: DeadLetterQueue) -> DeadLetterMessage:
    return DeadLetterMessage(
        delivery.message_id,
        delivery.body.decode("utf-8", errors="replace"),
        dlq.name,
        dict(delivery.headers),
        delivery.delivery_count,
        dlq.service,
    )
