"""``@tomodachi.aws_sns_sqs`` handlers on the in-memory broker (SNS+SQS semantics, in-process).

Topology as the AWS backend creates it (topics, queues, subscriptions with filter policies,
FIFO, visibility timeout, redrive to a dead-letter queue), long-poll receives of up to
``max_number_of_consumed_messages`` handled concurrently (the next receive asks only for free
slots), visibility extended while a handler runs, delete after success. Stop: stop receiving,
drain in-flight handlers within the grace period, make unfinished messages visible at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tomodachi._tasks import TaskTracker
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.slots import Slots
from tomodachi.runtime import Runtime
from tomodachi.service import Service
from tomodachi.transport.aws_sns_sqs.naming import wildcard_matcher
from tomodachi.transport.aws_sns_sqs.transport import Action, AWSSNSSQSTransport, ReceivedMessage, SqsConsumer
from tomodachi.transport.memory.broker import MemoryBroker, queue_name_of
from tomodachi.transport.memory.delivery_log import Attempt
from tomodachi.transport.memory.sqs_queue import SqsMessage

__all__ = ["MemorySnsSqsTransport"]

_RESULTS = {
    Action.DELETE: "handled",
    Action.LEAVE: "retry",
    Action.DEAD_LETTER: "dead_lettered",
    Action.DROP: "dropped",
}


class MemorySnsSqsTransport(AWSSNSSQSTransport):
    """The SNS+SQS transport of one service on the run's :class:`MemoryBroker`."""

    #: Long-poll wait of one receive, in seconds of the run's clock (as ``WaitTimeSeconds``).
    wait_seconds = 20.0

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.broker = MemoryBroker.of(runtime)
        self._loops = TaskTracker()
        self._in_flight: dict[str, tuple[str, SqsMessage]] = {}

    async def start(self) -> None:
        sns_sqs = self.broker.sns_sqs
        for consumer in self.consumers:
            queue = queue_name_of(consumer.queue)
            dlq = consumer.dead_letter_queue
            if isinstance(dlq, str) and not sns_sqs.queue_exists(queue_name_of(dlq)):
                sns_sqs.create_queue(queue_name_of(dlq), fifo=consumer.fifo)
            if not sns_sqs.queue_exists(queue):
                sns_sqs.create_queue(queue, fifo=consumer.fifo)
            redrive: Any = {}
            if dlq is None:
                redrive = {"redrive": None}
            elif isinstance(dlq, str):
                redrive = {"redrive": (queue_name_of(dlq), consumer.max_receive_count)}
            sns_sqs.set_queue_attributes(queue, visibility_timeout=consumer.visibility_timeout, **redrive)
            if consumer.topic_name is None:
                continue
            policy = None if consumer.filter_policy is DEFAULT else consumer.filter_policy
            if consumer.wildcard:
                matcher = wildcard_matcher(consumer.topic_name)
                for arn in sns_sqs.list_topics():
                    name = arn.rsplit(":", 1)[-1]
                    if matcher.match(name):
                        sns_sqs.subscribe(name, queue, filter_policy=policy)
            else:
                sns_sqs.create_topic(consumer.topic_name, fifo=consumer.fifo)
                sns_sqs.subscribe(consumer.topic_name, queue, filter_policy=policy)

    async def started(self) -> None:
        for consumer in self.consumers:
            self._loops.spawn(self._consume(consumer), name=f"aws_sns_sqs:{consumer.handler.name}")
        if self.consumers:
            self._loops.spawn(self._extend_visibility(), name="aws_sns_sqs:visibility")

    async def _consume(self, consumer: SqsConsumer) -> None:
        queue = queue_name_of(consumer.queue)
        slots = Slots(consumer.batch_size)
        while True:
            await slots.wait_free()
            messages = await self.broker.sns_sqs.receive(
                queue, max_messages=slots.free, wait_seconds=self.wait_seconds
            )
            slots.take(len(messages))
            for message in messages:
                self._in_flight[message.receipt_handle] = (queue, message)
                self.tasks.spawn(self._process(consumer, queue, message, slots))

    async def _process(self, consumer: SqsConsumer, queue: str, message: SqsMessage, slots: Slots) -> None:
        sns_sqs = self.broker.sns_sqs
        try:
            payload, values = self.parse(
                consumer,
                ReceivedMessage(
                    body=message.body,
                    message_id=message.message_id,
                    receipt_handle=message.receipt_handle,
                    attributes=message.message_attributes,
                    receive_count=message.receive_count,
                    group_id=message.group_id,
                    deduplication_id=message.deduplication_id,
                    queue_url=self.broker.queue_url(queue),
                ),
            )
            message_id = values["sns_message_id"] or message.message_id
            outcome = await consumer.pipeline(payload, values, message_id=message_id)
            action = self.action(consumer, outcome, message_id)
            if action is Action.DEAD_LETTER:
                sns_sqs.send_message(
                    queue_name_of(consumer.dead_letter_queue),
                    message.body,
                    message_attributes=message.message_attributes or None,
                    group_id=message.group_id,
                    deduplication_id=message.message_id if message.group_id is not None else None,
                )
            if action is not Action.LEAVE:
                sns_sqs.delete_message(queue, message.receipt_handle)
            ids = {message.message_id, values["sns_message_id"]} - {""}
            self.broker.log.add(
                Attempt(
                    message_ids=frozenset(ids),
                    service=self.service.name,
                    handler=consumer.handler.name,
                    delivery=message.receive_count,
                    result=_RESULTS[action],
                    reason=outcome.reason,
                    error=outcome.error,
                )
            )
        except asyncio.CancelledError:
            # Cancelled at the end of the grace period: visible again at once, not after its timeout.
            sns_sqs.change_visibility(queue, message.receipt_handle, 0)
            raise
        finally:
            self._in_flight.pop(message.receipt_handle, None)
            slots.give()

    async def _extend_visibility(self) -> None:
        """Keep messages whose handlers run long invisible: extend at half their timeout."""
        sns_sqs = self.broker.sns_sqs
        clock = self.broker.clock
        while True:
            timeouts = [sns_sqs.queue(queue_name_of(c.queue)).visibility_timeout for c in self.consumers]
            await clock.sleep(max(min(timeouts) / 2, 0.5))
            for receipt_handle, (queue, _message) in list(self._in_flight.items()):
                try:
                    sns_sqs.change_visibility(queue, receipt_handle, sns_sqs.queue(queue).visibility_timeout)
                except ValueError:  # settled meanwhile
                    pass

    async def stop(self) -> None:
        await self._loops.cancel_all()  # stop receiving
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            from tomodachi.logging import get_logger

            get_logger("tomodachi.aws_sns_sqs").warning(
                "handlers still running at the end of the grace period were cancelled; "
                "their messages are visible again",
                count=len(cancelled),
                grace_period=self.grace_period,
            )

    async def close(self) -> None:
        await self._loops.cancel_all()
