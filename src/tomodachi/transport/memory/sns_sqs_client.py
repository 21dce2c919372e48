"""The in-memory implementation of :class:`~tomodachi.transport.aws_sns_sqs.client.SnsSqsClient`.

Moves messages and topology on the run's :class:`~.broker.MemoryBroker` (its SNS+SQS model,
:mod:`.sns_sqs_broker`), on the run's clock: nothing else. The consumer, settling, retries,
visibility extension and draining are the same code as on AWS
(:mod:`tomodachi.transport.aws_sns_sqs.consumer`). Settled messages are recorded in the
broker's delivery log, which ``tomodachi.testing`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tomodachi.envelope._decode import OFFLOAD_THRESHOLD, off_loop
from tomodachi.errors import describe_exception
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.transport.aws_sns_sqs.client import QueueBinding
from tomodachi.transport.aws_sns_sqs.errors import QueueDoesNotExistError
from tomodachi.transport.aws_sns_sqs.message import ReceivedMessage
from tomodachi.transport.aws_sns_sqs.naming import wildcard_matcher
from tomodachi.transport.memory.broker import MemoryBroker, queue_name_of
from tomodachi.transport.memory.delivery_log import Attempt
from tomodachi.transport.memory.sns_sqs_broker import topic_arn

if TYPE_CHECKING:
    from tomodachi.clock import Clock
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = ["MemorySnsSqsClient"]


class MemorySnsSqsClient:
    """SNS+SQS on the run's in-memory broker, for one service."""

    def __init__(self, service: Any, runtime: Runtime) -> None:
        self.broker = MemoryBroker.of(runtime)
        self.clock: Clock = self.broker.clock
        self._service_name = str(getattr(service, "name", ""))

    # -- topology ----------------------------------------------------------------------------
    async def set_up(self, consumer: SqsConsumer) -> QueueBinding | None:
        sns_sqs = self.broker.sns_sqs
        queue = queue_name_of(consumer.queue)
        dlq = consumer.dead_letter_queue
        if isinstance(dlq, str) and not sns_sqs.queue_exists(queue_name_of(dlq)):
            sns_sqs.create_queue(queue_name_of(dlq), fifo=consumer.fifo)
        if not sns_sqs.queue_exists(queue):
            sns_sqs.create_queue(queue, fifo=consumer.fifo)
        redrive: Any = {}  # leave the queue's redrive policy as it is
        if dlq is None:
            redrive = {"redrive": None}
        elif isinstance(dlq, str) and consumer.max_receive_count is not None:
            redrive = {"redrive": (queue_name_of(dlq), consumer.max_receive_count)}
        sns_sqs.set_queue_attributes(queue, visibility_timeout=consumer.visibility_timeout, **redrive)
        topics = self._subscribe(consumer, queue)
        model = sns_sqs.queue(queue)
        binding = QueueBinding(
            queue,
            self.broker.queue_url(queue),
            model.visibility_timeout,
            self.broker.queue_url(dlq) if isinstance(dlq, str) else None,
            [topic_arn(name) for name in topics],
        )
        existing = model.dead_letter_queue
        if dlq is DEFAULT and existing is not None:  # the queue's own redrive policy still counts
            binding.dead_letter_url = self.broker.queue_url(existing.name)
            binding.dead_letter_name = existing.name
            binding.redrive_max_receive_count = model.max_receive_count
        return binding

    def _subscribe(self, consumer: SqsConsumer, queue: str) -> list[str]:
        """Subscribe *queue* to the consumer's topic (or the existing topics its wildcard matches)."""
        sns_sqs = self.broker.sns_sqs
        if consumer.topic_name is None:
            return []
        policy = None if consumer.filter_policy is DEFAULT else consumer.filter_policy
        if consumer.wildcard:
            matcher = wildcard_matcher(consumer.topic_name)
            names = [arn.rsplit(":", 1)[-1] for arn in sns_sqs.list_topics()]
            names = [name for name in names if matcher.match(name)]
        else:
            sns_sqs.create_topic(consumer.topic_name, fifo=consumer.fifo)
            names = [consumer.topic_name]
        for name in names:
            sns_sqs.subscribe(name, queue, filter_policy=policy)
        return names

    def raise_if_incomplete(self) -> None:
        """The in-memory topology is always created: nothing can be missing."""

    # -- consuming ---------------------------------------------------------------------------
    async def receive_messages(
        self, queue_url: str, max_messages: int, wait_seconds: float
    ) -> list[ReceivedMessage]:
        messages = await self.broker.sns_sqs.receive(
            queue_name_of(queue_url), max_messages=max_messages, wait_seconds=wait_seconds
        )
        return [
            ReceivedMessage(
                body=message.body,
                message_id=message.message_id,
                receipt_handle=message.receipt_handle,
                attributes=message.message_attributes,
                receive_count=message.receive_count,
                group_id=message.group_id,
                deduplication_id=message.deduplication_id,
                queue_url=queue_url,
            )
            for message in messages
        ]

    async def delete_message(self, queue_url: str, receipt_handle: str) -> None:
        self.broker.sns_sqs.delete_message(queue_name_of(queue_url), receipt_handle)

    async def change_visibility(self, queue_url: str, receipts: Sequence[str], visibility: float) -> int:
        failed = 0
        for receipt_handle in receipts:
            try:
                self.broker.sns_sqs.change_visibility(queue_name_of(queue_url), receipt_handle, visibility)
            except ValueError:  # settled meanwhile (a stale receipt handle)
                failed += 1
        return failed

    async def dead_letter(self, queue_url: str, message: ReceivedMessage, *, fifo: bool) -> None:
        self.broker.sns_sqs.send_message(
            queue_name_of(queue_url),
            message.body,
            message_attributes=message.attributes or None,
            group_id=(message.group_id or "tomodachi") if fifo else None,
            deduplication_id=(message.deduplication_id or message.message_id) if fifo else None,
        )

    def is_transient(self, exc: BaseException) -> bool:
        return False

    def is_missing_queue(self, exc: BaseException) -> bool:
        return isinstance(exc, QueueDoesNotExistError)

    def describe_error(self, exc: BaseException) -> str:
        return describe_exception(exc)

    def settled(
        self,
        consumer: SqsConsumer,
        message: ReceivedMessage,
        sns_message_id: str,
        result: str,
        outcome: Outcome,
    ) -> None:
        """Record the attempt in the broker's delivery log (SNS and SQS ids, so either finds it)."""
        self.broker.log.add(
            Attempt(
                message_ids=frozenset({message.message_id, sns_message_id} - {""}),
                service=self._service_name,
                handler=consumer.handler.name,
                delivery=message.receive_count or 0,
                result=result,
                reason=outcome.reason,
                error=outcome.error,
            )
        )

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
        encoded: str | None = None
        if len(payload) >= OFFLOAD_THRESHOLD:  # escaping megabytes would stall the loop
            encoded = await off_loop(len(payload), json.dumps, payload)
        return self.broker.publish_sns(
            topic_name,
            payload,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            encoded_message=encoded,
        )

    async def queue_url(self, name_url_or_arn: str) -> str:
        return self.broker.queue_url(name_url_or_arn)

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
        return self.broker.send_sqs(
            queue_url,
            body,
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )
