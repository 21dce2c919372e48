"""The broker behind :class:`~tomodachi.transport.amqp.transport.AmqpTransport`: a small protocol.

The transport owns everything a service can observe (the receive path, the concurrency bound,
settle decisions, redelivery counting, logging, the drain); a backend only declares, moves
bytes and settles. Two implement :class:`AmqpBackend`: RabbitMQ through aio-pika
(:mod:`tomodachi.transport.amqp.rabbitmq`) and the in-memory broker
(:mod:`tomodachi.transport.memory.amqp_backend`). :func:`backend_for` is the one place that
chooses between them, for consuming and for publishing alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from tomodachi.messaging.backend import backend_class, register_message_family

if TYPE_CHECKING:
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AMQP_FAMILY", "AmqpBackend", "Delivery", "OnDelivery", "backend_for"]

#: ``amqp.broker = "memory"`` (or ``--message-broker memory``) runs AMQP on the in-memory broker.
AMQP_FAMILY = register_message_family("amqp", broker_option="amqp.broker")


class Delivery:
    """One message as the broker delivered it (what a backend hands to the transport)."""

    __slots__ = (
        "body",
        "content_type",
        "delivery_count",
        "delivery_tag",
        "exchange",
        "handle",
        "headers",
        "message_id",
        "redelivered",
        "routing_key",
    )

    def __init__(
        self,
        body: bytes,
        message_id: str | None,
        headers: dict[str, Any],
        redelivered: bool,
        delivery_tag: int | None,
        delivery_count: int | None,
        content_type: str | None,
        exchange: str,
        routing_key: str,
        handle: Any,
    ) -> None:
        self.body = body
        self.message_id = message_id
        self.headers = headers
        self.redelivered = redelivered
        self.delivery_tag = delivery_tag
        #: The broker's count (1 on the first delivery), or None where the broker does not count.
        self.delivery_count = delivery_count
        self.content_type = content_type
        self.exchange = exchange
        self.routing_key = routing_key
        #: The backend's own object for settling (an aio-pika message, a delivery tag).
        self.handle = handle


#: Called by a backend for each delivery of a consumer, in the backend's receive task. It hands
#: the delivery to a task of the transport's and returns None (a plain call, not a coroutine: one
#: less per message), or returns what the backend must await first (giving a message back while
#: the consumer stops).
OnDelivery = Callable[[Delivery], "Awaitable[None] | None"]


class AmqpBackend(Protocol):
    """A service's link to one AMQP broker (one instance per transport; see the module docstring).

    Lifecycle, driven by the transport: :meth:`start` (connect, prefetch limits, then the
    transport's declarations and consumers through this backend), :meth:`stop_consuming`
    (intake stops; in-flight deliveries may still be settled), :meth:`close` (unsettled
    deliveries go back to their queues).
    """

    #: Exceptions of :meth:`ack` / :meth:`requeue` / :meth:`reject` that mean the channel is
    #: gone: the broker has already put the message back and delivers it again.
    settle_errors: tuple[type[BaseException], ...]
    #: Whether :meth:`settled` records anything (False: the transport does not call it for a
    #: handled message, the hot path).
    records_settled: bool

    def __init__(self, service: Service, runtime: Runtime) -> None: ...

    @property
    def ready(self) -> bool:
        """Whether the broker is reachable with the channel up (readiness)."""

    async def start(self, topology: Callable[[], Awaitable[None]]) -> None:
        """Connect and set the prefetch limit, then await *topology*; broker errors become
        one-line ``AmqpConnectionException`` / declaration errors, and the whole is bounded."""

    async def declare_exchange(self, name: str) -> None:
        """A durable topic exchange (the predeclared ones are left alone)."""

    async def declare_queue(self, name: str, *, ttl: int | None, dead_letter_exchange: str | None) -> int:
        """A durable queue; returns how many consumers it already has."""

    async def bind(self, queue: str, exchange: str, binding_key: str) -> None: ...

    async def declare_retry_queue(self, name: str, *, delay_ms: int, target: str, expires_ms: int) -> None:
        """A durable queue without consumers that holds each message *delay_ms* ms and then
        dead-letters it through the default exchange to the queue *target* (``x-message-ttl``,
        ``x-dead-letter-exchange: ""``, ``x-dead-letter-routing-key``), expiring *expires_ms*
        ms after its last declaration (``x-expires``)."""

    def republish(
        self, delivery: Delivery, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> Awaitable[None]:
        """Publish a copy of *delivery* (its body and properties, with *headers*) to *exchange*
        (``""``: the default exchange, *routing_key* naming a queue), confirmed by the broker;
        raises ``AmqpPublishError``."""

    async def consume(self, queue: str, on_delivery: OnDelivery) -> None:
        """Start consuming *queue* with manual acknowledgement; *on_delivery* gets each message."""

    async def stop_consuming(self) -> None:
        """Cancel the consumers: no new deliveries (settling in-flight ones still works)."""

    def ack(self, delivery: Delivery) -> Awaitable[None]: ...

    def requeue(self, delivery: Delivery) -> Awaitable[None]:
        """Back to the queue, flagged as redelivered."""

    def reject(self, delivery: Delivery) -> Awaitable[None]:
        """Not requeued: to the queue's dead-letter exchange, or dropped when it has none."""

    def settled(
        self, handler: str, delivery: Delivery, delivery_count: int, result: str, outcome: Outcome
    ) -> None:
        """Observe a settled delivery (the in-memory broker's delivery log; a no-op on RabbitMQ).

        *result* is ``handled``, ``retry``, ``dead_lettered`` or ``dropped``.
        """

    async def close(self) -> None:
        """Release the channel: unsettled deliveries go back to their queues."""

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
        """Publish *body* (routing key already encoded) for *service*, with *headers* (e.g. a
        ``traceparent`` from instrumentation); raises ``AmqpPublishError``."""


def backend_for(service: Any, runtime: Runtime) -> type[AmqpBackend]:
    """The backend class of *service* in *runtime*: the in-memory broker or RabbitMQ.

    ``--message-broker memory`` or ``amqp.broker = "memory"`` choose the in-memory one; a missing
    ``aio-pika`` is a ``ConfigurationError`` naming the extra to install.
    """
    cls: type[AmqpBackend] = backend_class(
        service,
        runtime,
        AMQP_FAMILY,
        memory="tomodachi.transport.memory.amqp_backend:MemoryAmqpBackend",
        real="tomodachi.transport.amqp.rabbitmq:RabbitMQBackend",
        extra="amqp",
    )
    return cls
