"""One received SQS message: its body unwrapped into payload and injected values, and how it settles."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tomodachi.messaging.pipeline import Outcome, Settle
from tomodachi.transport.aws_sns_sqs.attributes import decode_attributes
from tomodachi.transport.aws_sns_sqs.naming import decode_topic, strip_prefix
from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = ["Action", "ReceivedMessage", "parse", "settle_action"]


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


def parse(message: ReceivedMessage, topic_prefix: str) -> tuple[str, dict[str, Any]]:
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
            topic = strip_prefix(decode_topic(arn.rsplit(":", 1)[-1]), topic_prefix)
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


def settle_action(consumer: SqsConsumer, outcome: Outcome, message_id: str) -> Action:
    """How *outcome* settles the message (a drop is logged here, once)."""
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
