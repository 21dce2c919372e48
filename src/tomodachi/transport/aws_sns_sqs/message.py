"""One received SQS message, and its body unwrapped into the payload and the injected values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tomodachi.transport.aws_sns_sqs.attributes import decode_attributes
from tomodachi.transport.aws_sns_sqs.naming import decode_topic, strip_prefix

__all__ = ["VALUE_NAMES", "ReceivedMessage", "parse"]

#: The transport values a handler can be given, as :func:`parse` makes them.
VALUE_NAMES = (
    "topic",
    "receipt_handle",
    "queue_url",
    "message_attributes",
    "approximate_receive_count",
    "sns_message_id",
    "sqs_message_id",
    "message_type",
    "raw_message_body",
    "message_timestamp",
    "message_deduplication_id",
    "message_group_id",
)


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
    values: dict[str, Any] = {  # keep VALUE_NAMES in step
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
