"""``AWSSNSSQSTransport``: what every SNS+SQS backend shares (declarations, names, bodies, settling).

``@tomodachi.aws_sns_sqs`` declares this class; :meth:`AWSSNSSQSTransport.implementation` picks
the backend per service: AWS through aiobotocore (``tomodachi.transport.aws_sns_sqs.aws``), or
the in-memory broker when ``aws_sns_sqs.broker`` is ``"memory"`` or the run was started with
``--message-broker memory``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError
from tomodachi.messaging.backend import backend_class
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.pipeline import MessageHandler, Outcome, Settle, handler_for_subscription
from tomodachi.transport.aws_sns_sqs.attributes import decode_attributes
from tomodachi.transport.aws_sns_sqs.decorators import SnsSqsSubscription
from tomodachi.transport.aws_sns_sqs.naming import (
    decode_topic,
    queue_name,
    strip_prefix,
    topic_name,
    validate_queue_name,
    validate_topic_name,
)
from tomodachi.transport.base import Handler, Transport

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AWSSNSSQSTransport", "Action", "ReceivedMessage", "SqsConsumer"]


@dataclass(slots=True)
class SqsConsumer:
    """One handler resolved against the service's options (names are final here)."""

    handler: Handler
    pipeline: MessageHandler
    queue: str
    """Queue name (prefixed), or an existing queue's ARN."""
    topic: str | None
    """The decorator's topic (unprefixed, unencoded), ``None`` for a queue-only handler."""
    topic_name: str | None
    """The encoded, prefixed SNS topic name (a pattern when :attr:`wildcard`)."""
    wildcard: bool
    fifo: bool
    filter_policy: Any
    """``DEFAULT`` (leave as is), ``None`` (no filter) or a dict."""
    visibility_timeout: int | None
    """``None``: leave the queue's setting."""
    dead_letter_queue: Any
    """``DEFAULT`` (leave), ``None`` (remove the redrive policy), or a prefixed name / ARN."""
    max_receive_count: int | None
    batch_size: int


@dataclass(slots=True)
class ReceivedMessage:
    """An SQS message as every backend hands it to :meth:`AWSSNSSQSTransport.parse`."""

    body: str
    message_id: str
    receipt_handle: str
    attributes: Mapping[str, Any]
    """SQS message attributes (botocore form)."""
    receive_count: int | None = None
    group_id: str | None = None
    deduplication_id: str | None = None
    queue_url: str = ""


class Action(enum.Enum):
    """What a backend does with a message after the pipeline."""

    DELETE = "delete"
    LEAVE = "leave"  # visible again after its visibility timeout; the redrive policy counts it
    DEAD_LETTER = "dead_letter"  # send to the handler's dead-letter queue, then delete
    DROP = "drop"  # no dead-letter queue: delete (logged)


class AWSSNSSQSTransport(Transport):
    """Base of the SNS+SQS backends; one instance serves every handler of a service."""

    kind = "aws_sns_sqs"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.consumers: list[SqsConsumer] = []

    @classmethod
    def implementation(cls, service: Service, runtime: Runtime) -> type[Transport]:
        if cls is not AWSSNSSQSTransport:
            return cls
        return backend_class(
            service,
            runtime,
            "aws_sns_sqs",
            memory="tomodachi.transport.memory.sns_sqs_transport:MemorySnsSqsTransport",
            real="tomodachi.transport.aws_sns_sqs.aws:AwsSnsSqsTransport",
            extra="aws",
        )

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        for handler in self.handlers:
            sub = handler.args[0]
            if not isinstance(sub, SnsSqsSubscription):  # pragma: no cover - declared by aws_sns_sqs() only
                raise ConfigurationError(f"{handler.name}: not declared with @tomodachi.aws_sns_sqs")
            self.consumers.append(self._resolve(handler, sub))

    def _resolve(self, handler: Handler, sub: SnsSqsSubscription) -> SqsConsumer:
        options = self.service.options.aws_sns_sqs
        where = f"@aws_sns_sqs handler {handler.name!r}"
        fifo = bool(sub.fifo)
        _check_queue_arguments(where, sub, fifo)
        pipeline = handler_for_subscription(
            self.service, handler, sub, kind="aws_sns_sqs", positional_key="topic", where=where
        )
        dlq, max_receive = _dead_letter(where, sub, options.queue_name_prefix, fifo)
        name = queue_name(
            sub.topic,
            handler.name,
            str(self.service.uuid),
            competing=sub.competing,
            explicit_name=sub.queue_name,
            prefix=options.queue_name_prefix,
            topic_prefix=options.topic_prefix,
            fifo=fifo,
        )
        if not name.startswith("arn:"):
            validate_queue_name(name)
        encoded_topic = None
        wildcard = False
        if sub.topic is not None:
            encoded_topic = topic_name(sub.topic, options.topic_prefix, fifo=fifo)
            wildcard = "*" in sub.topic or "#" in sub.topic
            if not wildcard:
                validate_topic_name(encoded_topic)
        return SqsConsumer(
            handler=handler,
            pipeline=pipeline,
            queue=name,
            topic=sub.topic,
            topic_name=encoded_topic,
            wildcard=wildcard,
            fifo=fifo,
            filter_policy=_filter_policy(where, sub.filter_policy),
            visibility_timeout=_visibility_timeout(where, sub.visibility_timeout),
            dead_letter_queue=dlq,
            max_receive_count=max_receive,
            batch_size=_batch_size(sub.max_number_of_consumed_messages, fifo),
        )

    # -- per message -----------------------------------------------------------------------
    def parse(self, consumer: SqsConsumer, message: ReceivedMessage) -> tuple[str, dict[str, Any]]:
        """The payload and transport keywords of one SQS message.

        SNS notifications and ``sqs_send_message`` bodies (``{"Type": "Message", ...}``) are
        unwrapped; any other body (raw delivery, foreign producers) is the payload itself.
        """
        body = message.body
        wrapper: Any = None
        if body[:1] == "{":
            try:
                wrapper = json.loads(body)
            except ValueError:
                wrapper = None
        sqs_attributes = decode_attributes(message.attributes)
        topic = ""
        sns_message_id = ""
        message_type = ""
        timestamp = None
        payload = body
        attributes = sqs_attributes
        if (
            isinstance(wrapper, dict)
            and wrapper.get("Type") in ("Notification", "Message")
            and isinstance(wrapper.get("Message"), str)
        ):
            payload = wrapper["Message"]
            message_type = wrapper["Type"]
            timestamp = wrapper.get("Timestamp")
            arn = wrapper.get("TopicArn")
            if message_type == "Notification" and isinstance(arn, str) and arn:
                topic = strip_prefix(
                    decode_topic(arn.rsplit(":", 1)[-1]), self.service.options.aws_sns_sqs.topic_prefix
                )
                sns_message_id = str(wrapper.get("MessageId") or "")
            if not attributes and isinstance(wrapper.get("MessageAttributes"), Mapping):
                attributes = decode_attributes(wrapper["MessageAttributes"])
        values: dict[str, Any] = {
            "topic": topic,
            "receipt_handle": message.receipt_handle,
            "queue_url": message.queue_url,
            "message_attributes": attributes,
            "approximate_receive_count": message.receive_count,
            "sns_message_id": sns_message_id,
            "sqs_message_id": message.message_id,
            "message_type": message_type,
            "raw_message_body": body,
            "message_timestamp": timestamp,
            "message_deduplication_id": message.deduplication_id,
            "message_group_id": message.group_id,
        }
        return payload, values

    def action(self, consumer: SqsConsumer, outcome: Outcome, message_id: str) -> Action:
        if outcome.settle is Settle.ACK:
            return Action.DELETE
        if outcome.settle is Settle.RETRY:
            return Action.LEAVE
        if isinstance(consumer.dead_letter_queue, str):
            return Action.DEAD_LETTER
        consumer.pipeline.logger.error(
            "message dropped (the handler has no dead_letter_queue_name)",
            message_id=message_id,
            reason=outcome.reason,
        )
        return Action.DROP


def _check_queue_arguments(where: str, sub: SnsSqsSubscription, fifo: bool) -> None:
    if sub.topic is None and not sub.queue_name:
        raise ConfigurationError(f"{where}: give a topic, a queue_name, or both")
    if sub.queue_name and sub.competing is False:
        raise ConfigurationError(f"{where}: a queue with a predefined queue name must be competing")
    if sub.queue_name and not sub.queue_name.startswith("arn:") and sub.queue_name.endswith(".fifo") != fifo:
        raise ConfigurationError(
            f"{where}: queue {sub.queue_name!r} is {'not ' if fifo else ''}FIFO by name, "
            f"but the handler has fifo={fifo}"
        )


def _visibility_timeout(where: str, value: int | None) -> int | None:
    """``None``/-1 leave the queue's setting; otherwise 0-43200 seconds."""
    if value in (None, -1):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 43200:
        raise ConfigurationError(f"{where}: visibility_timeout must be an integer from 0 to 43200")
    return value


def _filter_policy(where: str, value: Any) -> Any:
    """``DEFAULT`` (leave as is), ``None`` (remove), or a dict (a JSON string is parsed)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(f"{where}: filter_policy is not valid JSON") from None
    if value is not DEFAULT and value is not None and not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: filter_policy must be a dict, a JSON string or None")
    return value


def _batch_size(value: int | None, fifo: bool) -> int:
    """Messages per receive: 1-10 (anything else means 10); FIFO queues receive one at a time."""
    if fifo:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 10 else 10


def _dead_letter(where: str, sub: SnsSqsSubscription, prefix: str, fifo: bool) -> tuple[Any, int | None]:
    name, count = sub.dead_letter_queue_name, sub.max_receive_count
    count = None if count == -1 else count
    if name is DEFAULT and count is None:
        return DEFAULT, None
    if name is None and count is None:
        return None, None
    if (
        not isinstance(name, str)
        or not name
        or not isinstance(count, int)
        or isinstance(count, bool)
        or count < 1
    ):
        raise ConfigurationError(
            f"{where}: invalid values for the dead-letter queue: give dead_letter_queue_name (a name or ARN) "
            "together with max_receive_count (an integer >= 1), or dead_letter_queue_name=None to remove it"
        )
    if name.startswith("arn:"):
        return name, count
    full = prefix + name
    if fifo and not full.endswith(".fifo"):
        full += ".fifo"
    validate_queue_name(full)
    return full, count
