"""The AWS implementation of :class:`~.client.SnsSqsClient`, on aiobotocore.

Works with Amazon SNS+SQS or any endpoint that speaks their APIs (localstack, moto). The
aiobotocore clients are shared per set of options in the run (:mod:`.clients`); topology is
set up by :class:`~.topology.Topology`; publishing and sending are in :mod:`.aws_publish`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from tomodachi.clock import SYSTEM_CLOCK, Clock
from tomodachi.transport.aws_sns_sqs import aws_publish
from tomodachi.transport.aws_sns_sqs.clients import (
    clients_for,
    describe_error,
    is_missing_queue,
    is_transient,
)
from tomodachi.transport.aws_sns_sqs.message import ReceivedMessage
from tomodachi.transport.aws_sns_sqs.topology import Topology

if TYPE_CHECKING:
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.transport.aws_sns_sqs.client import QueueBinding
    from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = ["SYSTEM_ATTRIBUTES", "AwsSnsSqsClient"]

SYSTEM_ATTRIBUTES: Final = ["ApproximateReceiveCount", "MessageDeduplicationId", "MessageGroupId"]
_ATTRIBUTE_FIELDS: Final = ("DataType", "StringValue", "BinaryValue")


class AwsSnsSqsClient:
    """SNS+SQS on AWS for one service (its ``aws_sns_sqs`` and ``aws_endpoint_urls`` options)."""

    clock: Clock = SYSTEM_CLOCK

    def __init__(self, service: Any, runtime: Runtime) -> None:
        self.clients = clients_for(service, runtime)
        self.options = service.options.aws_sns_sqs
        self._topology: Topology | None = None
        self._system_attributes: dict[str, Any] | None = None

    # -- topology ----------------------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        if self._topology is None:
            self._topology = Topology(self.clients, self.options, manage=bool(self.options.manage_topology))
        return self._topology

    async def set_up(self, consumer: SqsConsumer) -> QueueBinding | None:
        return await self.topology.setup(consumer)

    def raise_if_incomplete(self) -> None:
        self.topology.raise_if_missing()

    # -- consuming ---------------------------------------------------------------------------
    async def receive_messages(
        self, queue_url: str, max_messages: int, wait_seconds: float
    ) -> list[ReceivedMessage]:
        if self._system_attributes is None:
            parameter = await self.clients.system_attributes_parameter()
            self._system_attributes = {parameter: SYSTEM_ATTRIBUTES}
        response = await self.clients.call(
            "sqs",
            "receive_message",
            QueueUrl=queue_url,
            WaitTimeSeconds=int(wait_seconds),
            MaxNumberOfMessages=max_messages,
            MessageAttributeNames=["All"],
            **self._system_attributes,
        )
        return [_received(raw, queue_url) for raw in response.get("Messages") or []]

    async def delete_message(self, queue_url: str, receipt_handle: str) -> None:
        await self.clients.call("sqs", "delete_message", QueueUrl=queue_url, ReceiptHandle=receipt_handle)

    async def change_visibility(self, queue_url: str, receipts: Sequence[str], visibility: float) -> int:
        entries = [
            {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": math.ceil(visibility)}
            for i, receipt in enumerate(receipts)
        ]
        response = await self.clients.call(
            "sqs", "change_message_visibility_batch", QueueUrl=queue_url, Entries=entries
        )
        return len(response.get("Failed") or [])

    async def dead_letter(self, queue_url: str, message: ReceivedMessage, *, fifo: bool) -> None:
        request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message.body}
        attributes = {
            name: {k: v for k, v in value.items() if k in _ATTRIBUTE_FIELDS}
            for name, value in message.attributes.items()
            if isinstance(value, dict)
        }
        if attributes:
            request["MessageAttributes"] = attributes
        if fifo:
            request["MessageGroupId"] = message.group_id or "tomodachi"
            request["MessageDeduplicationId"] = message.deduplication_id or message.message_id
        await self.clients.call("sqs", "send_message", **request)

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    def is_missing_queue(self, exc: BaseException) -> bool:
        return is_missing_queue(exc)

    def describe_error(self, exc: BaseException) -> str:
        return describe_error(exc)

    def settled(
        self,
        consumer: SqsConsumer,
        message: ReceivedMessage,
        sns_message_id: str,
        result: str,
        outcome: Outcome,
    ) -> None:
        """Nothing to record on AWS."""

    # -- publishing and sending ----------------------------------------------------------------
    async def publish(
        self,
        topic_name: str,
        payload: str,
        *,
        message_attributes: Mapping[str, Any],
        group_id: str | None,
        deduplication_id: str | None,
        topic_attributes: Any,
        overwrite_topic_attributes: bool,
    ) -> str:
        return await aws_publish.publish(
            self.clients,
            self.options,
            topic_name,
            payload,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            topic_attributes=topic_attributes,
            overwrite_topic_attributes=overwrite_topic_attributes,
        )

    async def queue_url(self, name_url_or_arn: str) -> str:
        return await aws_publish.queue_url(self.clients, name_url_or_arn)

    async def send_message(
        self,
        queue_url: str,
        body: str,
        *,
        message_attributes: Mapping[str, Any],
        delay_seconds: int | None,
        group_id: str | None,
        deduplication_id: str | None,
    ) -> str:
        return await aws_publish.send_message(
            self.clients,
            queue_url,
            body,
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )


def _received(raw: Mapping[str, Any], queue_url: str) -> ReceivedMessage:
    system = raw.get("Attributes") or {}
    count = system.get("ApproximateReceiveCount")
    return ReceivedMessage(
        body=str(raw.get("Body") or ""),
        message_id=str(raw.get("MessageId", "")),
        receipt_handle=str(raw.get("ReceiptHandle", "")),
        attributes=raw.get("MessageAttributes") or {},
        receive_count=int(count) if isinstance(count, str) and count.isdigit() else None,
        group_id=system.get("MessageGroupId"),
        deduplication_id=system.get("MessageDeduplicationId"),
        queue_url=queue_url,
    )
