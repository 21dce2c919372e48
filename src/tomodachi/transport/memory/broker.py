"""``MemoryBroker``: the in-process broker of one run (AMQP and SNS+SQS semantics).

Every service of a run (``tomodachi run a.py b.py``, or ``tomodachi.testing``) shares one
broker, a run-scoped resource (``runtime.resource``), so they exchange messages as they would
through RabbitMQ or AWS. Time (visibility timeouts, delays, long polls) follows the run's clock,
so a test with a ``ManualClock`` moves it without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tomodachi.clock import Clock, get_clock
from tomodachi.messaging.backend import memory_model
from tomodachi.transport.memory.amqp_broker import AmqpBroker
from tomodachi.transport.memory.delivery_log import Attempt, DeliveryLog
from tomodachi.transport.memory.sns_sqs_broker import SnsSqsBroker

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["MemoryBroker"]


class MemoryBroker:
    """The AMQP model, the SNS+SQS model and the log of deliveries of one run."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.amqp = AmqpBroker(clock)
        self.sns_sqs = SnsSqsBroker(clock)
        self.log = DeliveryLog()
        self.sns_sqs.on_event.append(self._on_sqs_event)

    def _on_sqs_event(self, event: str, details: dict[str, Any]) -> None:
        # The redrive policy moves a message to its dead-letter queue on a receive: record it so
        # a test waiting on the message sees "dead_lettered" (its SNS id links via earlier attempts).
        if event == "dead_lettered":
            self.log.add(
                Attempt(
                    message_ids=frozenset((str(details["message_id"]),)),
                    service="",
                    handler=f"redrive:{details['queue']}",
                    delivery=int(details["receive_count"]),
                    result="dead_lettered",
                    reason=f"moved to {details['dlq']} after {details['receive_count']} receives",
                )
            )

    @classmethod
    def of(cls, runtime: Runtime) -> MemoryBroker:
        """The broker of *runtime*, created on first use with the run's clock.

        One model serves both built-in families (``amqp`` and ``aws_sns_sqs``), so it is the
        memory model of the family name ``"tomodachi"``.
        """
        return memory_model(runtime, "tomodachi", lambda: cls(get_clock(runtime)), _close)

    # -- publishing (used by amqp_publish / aws_sns_sqs_publish / sqs_send_message) -------------
    def publish_amqp(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        if exchange:  # "" is the default exchange: it always exists
            self.amqp.declare_exchange(exchange)
        self.amqp.publish(exchange, routing_key, body, message_id=message_id, headers=headers)
        return message_id

    def publish_sns(
        self,
        topic_name: str,
        message: str,
        *,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        encoded_message: str | None = None,
    ) -> str:
        # Publishing creates the topic, as the original's publish does (CreateTopic is idempotent).
        self.sns_sqs.create_topic(topic_name, fifo=topic_name.endswith(".fifo"))
        return self.sns_sqs.publish(
            topic_name,
            message,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            encoded_message=encoded_message,
        )

    def queue_url(self, name: str) -> str:
        name = queue_name_of(name)
        if not self.sns_sqs.queue_exists(name):
            from tomodachi.transport.aws_sns_sqs.errors import missing_queue_error

            raise missing_queue_error(name)
        return f"memory://sqs/{name}"

    def send_sqs(
        self,
        queue: str,
        body: str,
        *,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        delay_seconds: int | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        return self.sns_sqs.send_message(
            queue_name_of(queue),
            body,
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )


def queue_name_of(name_url_or_arn: str) -> str:
    """``memory://sqs/q``, ``https://.../123/q`` and ``arn:aws:sqs:...:q`` all name queue ``q``."""
    if "://" in name_url_or_arn:
        return name_url_or_arn.rstrip("/").rsplit("/", 1)[-1]
    if name_url_or_arn.startswith("arn:"):
        return name_url_or_arn.rsplit(":", 1)[-1]
    return name_url_or_arn


async def _close(broker: MemoryBroker) -> None:
    """The run ended: stop the broker's own timers (message TTLs)."""
    await broker.amqp.close()
