"""``AmqpTransport``: what every AMQP backend shares (declarations, names, settling rules).

``@tomodachi.amqp`` declares this class; :meth:`AmqpTransport.implementation` picks the backend
per service: RabbitMQ through aio-pika (``tomodachi.transport.amqp.rabbitmq``), or the
in-memory broker (``tomodachi.transport.memory``) when ``amqp.broker`` is ``"memory"`` or the
run was started with ``--message-broker memory``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError
from tomodachi.messaging.backend import backend_class
from tomodachi.messaging.pipeline import MessageHandler, Outcome, Settle, handler_for_subscription
from tomodachi.transport.amqp.decorators import AmqpSubscription
from tomodachi.transport.amqp.naming import decode_routing_key, encode_routing_key, queue_name
from tomodachi.transport.base import Handler, Transport

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AmqpConsumer", "AmqpProperties", "AmqpTransport", "Disposition", "default_exchange"]

_PREDECLARED = ("", "amq.topic")


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
class AmqpConsumer:
    """One handler resolved against the service's options (names are final here)."""

    handler: Handler
    pipeline: MessageHandler
    exchange: str
    binding_key: str
    queue: str
    competing: bool

    @property
    def declare_exchange(self) -> bool:
        """Whether the exchange must be declared (``amq.topic`` and the default always exist)."""
        return self.exchange not in _PREDECLARED


class Disposition(enum.Enum):
    """What a backend does with a delivery after the pipeline."""

    ACK = "ack"
    REQUEUE = "requeue"
    DEAD_LETTER = "dead_letter"


def default_exchange(service: Any, exchange_name: str = "") -> str:
    return exchange_name or service.options.amqp.exchange_name or "amq.topic"


class AmqpTransport(Transport):
    """Base of the AMQP backends; one instance serves every ``@amqp`` handler of a service."""

    kind = "amqp"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.consumers: list[AmqpConsumer] = []

    @classmethod
    def implementation(cls, service: Service, runtime: Runtime) -> type[Transport]:
        if cls is not AmqpTransport:
            return cls
        return backend_class(
            service,
            runtime,
            "amqp",
            memory="tomodachi.transport.memory.amqp_transport:MemoryAmqpTransport",
            real="tomodachi.transport.amqp.rabbitmq:RabbitMQTransport",
            extra="amqp",
        )

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        options = self.service.options.amqp
        for handler in self.handlers:
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
                self.service, handler, sub, kind="amqp", positional_key="routing_key", where=where
            )
            self.consumers.append(
                AmqpConsumer(
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
            )

    # -- per delivery ----------------------------------------------------------------------
    def values_for(self, consumer: AmqpConsumer, properties: AmqpProperties) -> dict[str, Any]:
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

    def disposition(
        self, consumer: AmqpConsumer, outcome: Outcome, delivery_count: int, message_id: str | None
    ) -> Disposition:
        """Ack, requeue or dead-letter, by the outcome and ``amqp.max_redeliveries``."""
        if outcome.settle is Settle.ACK:
            return Disposition.ACK
        if outcome.settle is Settle.RETRY:
            limit = self.service.options.amqp.max_redeliveries
            if limit is None or delivery_count <= limit:
                return Disposition.REQUEUE
            consumer.pipeline.logger.warning(
                "message redelivered too many times",
                message_id=message_id,
                delivery_count=delivery_count,
                max_redeliveries=limit,
            )
        return Disposition.DEAD_LETTER

    def log_dropped(self, consumer: AmqpConsumer, message_id: str | None, outcome: Outcome) -> None:
        """A dead-lettered message with no dead-letter exchange configured is dropped: say so."""
        consumer.pipeline.logger.error(
            "message dropped (no dead-letter exchange configured: set amqp.dead_letter_exchange)",
            message_id=message_id,
            reason=outcome.reason,
        )
