"""An in-memory model of Amazon SNS topics fanning out to SQS queues.

:class:`SnsSqsBroker` keeps topics, queues (:class:`~.sqs_queue.SqsQueue`) and subscriptions.
Publishing to a topic puts one copy in every subscribed queue whose filter policy
(:mod:`.filter_policy`) matches the message attributes. As with SNS, each queue copy gets its
own SQS message id and, unless the subscription uses raw message delivery, its body is the SNS
notification JSON (with the SNS message id inside) and it carries no SQS message attributes.

All names are plain topic/queue names; ARNs and URLs use a fixed region and account
(:data:`REGION`, :data:`ACCOUNT`) and ``memory://sqs/<name>`` URLs.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Final

from tomodachi.clock import SYSTEM_CLOCK, Clock
from tomodachi.transport.memory.filter_policy import matches_filter_policy, validate_filter_policy
from tomodachi.transport.memory.sqs_queue import (
    DedupWindow,
    SqsMessage,
    SqsQueue,
    validate_message_attributes,
)

__all__ = ["ACCOUNT", "REGION", "SnsSqsBroker", "queue_arn", "queue_url", "topic_arn"]

REGION: Final = "us-east-1"
ACCOUNT: Final = "000000000000"


def topic_arn(name: str) -> str:
    """The ARN of topic *name*."""
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def queue_arn(name: str) -> str:
    """The ARN of queue *name*."""
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def queue_url(name: str) -> str:
    """The URL of queue *name*."""
    return f"memory://sqs/{name}"


class _Unchanged:
    """Type of the "leave as it is" default of :meth:`SnsSqsBroker.set_queue_attributes`."""


_UNCHANGED: Final = _Unchanged()


@dataclass(slots=True)
class _Subscription:
    arn: str
    filter_policy: dict[str, Any] | None
    raw_message_delivery: bool


@dataclass(slots=True)
class _Topic:
    name: str
    arn: str
    fifo: bool
    dedup: DedupWindow | None  # FIFO topics deduplicate publishes, like SNS FIFO
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)  # by queue name


class SnsSqsBroker:
    """SNS topics and SQS queues of one (fake) AWS account, on *clock* (default: the system clock).

    ``on_event`` is a list of callbacks called synchronously as ``callback(event, details)``
    with the queue events ``"delivered"``, ``"received"`` and ``"dead_lettered"``
    (see :class:`~.sqs_queue.SqsQueue`).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self.on_event: list[Callable[[str, dict[str, Any]], None]] = []
        self._topics: dict[str, _Topic] = {}
        self._queues: dict[str, SqsQueue] = {}

    # -- SNS -----------------------------------------------------------------------------
    def create_topic(self, name: str, *, fifo: bool = False) -> str:
        """Create topic *name* (idempotent); returns its ARN."""
        if not name or name.endswith(".fifo") != fifo:
            raise ValueError(f"topic name {name!r}: FIFO topic names, and only those, end with '.fifo'")
        topic = self._topics.get(name)
        if topic is None:
            topic = _Topic(name, topic_arn(name), fifo, DedupWindow(self.clock) if fifo else None)
            self._topics[name] = topic
        return topic.arn

    def topic_exists(self, name: str) -> bool:
        """Whether topic *name* exists."""
        return name in self._topics

    def list_topics(self) -> list[str]:
        """The ARNs of all topics."""
        return [topic.arn for topic in self._topics.values()]

    def subscribe(
        self,
        topic: str,
        queue: str,
        *,
        filter_policy: Mapping[str, Any] | None = None,
        raw_message_delivery: bool = False,
    ) -> str:
        """Subscribe *queue* to *topic*; subscribing again updates the subscription. Returns its ARN."""
        t = self._topic(topic)
        q = self.queue(queue)
        if q.fifo and not t.fifo:
            raise ValueError(f"FIFO queue {queue!r} can only subscribe to a FIFO topic")
        if filter_policy is not None:
            validate_filter_policy(filter_policy)
        policy = copy.deepcopy(dict(filter_policy)) if filter_policy else None
        subscription = t.subscriptions.get(queue)
        if subscription is None:
            subscription = _Subscription(f"{t.arn}:{uuid.uuid4()}", policy, raw_message_delivery)
            t.subscriptions[queue] = subscription
        else:
            subscription.filter_policy = policy
            subscription.raw_message_delivery = raw_message_delivery
        return subscription.arn

    def unsubscribe(self, topic: str, queue: str) -> None:
        """Remove the subscription of *queue* to *topic*, if there is one."""
        t = self._topics.get(topic)
        if t is not None:
            t.subscriptions.pop(queue, None)

    def publish(
        self,
        topic: str,
        message: str,
        *,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        encoded_message: str | None = None,
    ) -> str:
        """Publish *message* to every subscribed queue whose filter policy matches; returns the
        SNS message id (for a FIFO duplicate within five minutes: the original one, and nothing
        is delivered). *encoded_message* is ``json.dumps(message)`` when the caller has it
        already (computed off the event loop for a large message)."""
        t = self._topic(topic)
        attributes = {name: dict(value) for name, value in (message_attributes or {}).items()}
        validate_message_attributes(attributes)
        if t.dedup is not None:
            if not group_id or not deduplication_id:
                raise ValueError(f"FIFO topic {topic!r}: group_id and deduplication_id are required")
            original = t.dedup.original(deduplication_id)
            if original is not None:
                return original
        elif group_id is not None or deduplication_id is not None:
            raise ValueError(f"topic {topic!r}: group_id and deduplication_id are for FIFO topics only")
        message_id = str(uuid.uuid4())
        if t.dedup is not None and deduplication_id is not None:
            t.dedup.remember(deduplication_id, message_id)
        notification: str | None = None  # built once, for the first non-raw subscription
        for queue_name, subscription in list(t.subscriptions.items()):
            if not matches_filter_policy(subscription.filter_policy, attributes):
                continue
            q = self._queues[queue_name]
            if subscription.raw_message_delivery:
                body, sqs_attributes = message, attributes
            else:
                if notification is None:
                    notification = self._notification(t, message_id, message, attributes, encoded_message)
                body, sqs_attributes = notification, {}
            if q.fifo:
                q.send(body, sqs_attributes, group_id=group_id, deduplication_id=deduplication_id)
            else:
                q.send(body, sqs_attributes)
        return message_id

    # -- SQS -----------------------------------------------------------------------------
    def create_queue(
        self,
        name: str,
        *,
        fifo: bool = False,
        visibility_timeout: float = 30,
        delay_seconds: float = 0,
        redrive: tuple[str, int] | None = None,
    ) -> str:
        """Create queue *name*, or update the settings of an existing one; returns its URL.

        *redrive* is ``(dead-letter queue name, max receive count)``; that queue must exist.
        """
        queue = self._queues.get(name)
        if queue is None:
            queue = SqsQueue(
                name,
                clock=self.clock,
                fifo=fifo,
                visibility_timeout=visibility_timeout,
                delay_seconds=delay_seconds,
                emit=self._emit,
            )
            self._set_redrive(queue, redrive)  # before registering: a bad redrive creates nothing
            self._queues[name] = queue
        else:
            if queue.fifo != fifo:
                raise ValueError(f"queue {name!r} already exists with fifo={queue.fifo}")
            self.set_queue_attributes(
                name, visibility_timeout=visibility_timeout, delay_seconds=delay_seconds, redrive=redrive
            )
        return queue_url(name)

    def set_queue_attributes(
        self,
        name: str,
        *,
        visibility_timeout: float | None = None,
        delay_seconds: float | None = None,
        redrive: tuple[str, int] | _Unchanged | None = _UNCHANGED,
    ) -> None:
        """Change settings of queue *name*; ``None`` leaves a setting unchanged, except for
        *redrive*, where ``None`` removes the redrive policy (leave it out to keep it)."""
        queue = self.queue(name)
        for setting, value in (("visibility_timeout", visibility_timeout), ("delay_seconds", delay_seconds)):
            if value is not None and not value >= 0:
                raise ValueError(f"{setting} must be >= 0, not {value!r}")
        if not isinstance(redrive, _Unchanged):
            self._set_redrive(queue, redrive)
        if visibility_timeout is not None:
            queue.visibility_timeout = visibility_timeout
        if delay_seconds is not None:
            queue.delay_seconds = delay_seconds

    def queue_exists(self, name: str) -> bool:
        """Whether queue *name* exists."""
        return name in self._queues

    def queue(self, name: str) -> SqsQueue:
        """The model of queue *name* (``ValueError`` if there is none)."""
        queue = self._queues.get(name)
        if queue is None:
            raise ValueError(f"no queue named {name!r}")
        return queue

    def queue_attributes(self, name: str) -> dict[str, Any]:
        """The queue's settings and approximate message counts, named as in ``GetQueueAttributes``."""
        queue = self.queue(name)
        dlq = queue.dead_letter_queue
        return {
            "QueueArn": queue_arn(name),
            "VisibilityTimeout": queue.visibility_timeout,
            "DelaySeconds": queue.delay_seconds,
            "RedrivePolicy": (
                None
                if dlq is None
                else {"deadLetterTargetArn": queue_arn(dlq.name), "maxReceiveCount": queue.max_receive_count}
            ),
            "FifoQueue": queue.fifo,
            "ApproximateNumberOfMessages": queue.visible_count,
            "ApproximateNumberOfMessagesNotVisible": queue.inflight_count,
            "ApproximateNumberOfMessagesDelayed": queue.delayed_count,
        }

    def send_message(
        self,
        queue: str,
        body: str,
        *,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        delay_seconds: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        """Send a message straight to *queue*; returns its message id (see :meth:`SqsQueue.send`)."""
        return self.queue(queue).send(
            body,
            message_attributes,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )

    async def receive(
        self,
        queue: str,
        *,
        max_messages: int = 10,
        wait_seconds: float = 20,
        visibility_timeout: float | None = None,
    ) -> list[SqsMessage]:
        """Long-poll *queue*: messages as soon as any is available, or ``[]`` after *wait_seconds*."""
        return await self.queue(queue).receive(max_messages, wait_seconds, visibility_timeout)

    def delete_message(self, queue: str, receipt_handle: str) -> None:
        """Delete a received message; stale receipt handles are ignored, as in SQS."""
        self.queue(queue).delete(receipt_handle)

    def change_visibility(self, queue: str, receipt_handle: str, timeout: float) -> None:
        """Make a received message visible again in *timeout* seconds (0: now)."""
        self.queue(queue).change_visibility(receipt_handle, timeout)

    def purge(self, queue: str) -> None:
        """Delete every message of *queue*."""
        self.queue(queue).purge()

    # -- internals -----------------------------------------------------------------------
    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise ValueError(f"no topic named {name!r}")
        return topic

    def _set_redrive(self, queue: SqsQueue, redrive: tuple[str, int] | None) -> None:
        if redrive is None:
            queue.set_redrive(None)
            return
        dlq_name, max_receive_count = redrive
        if dlq_name not in self._queues:
            raise ValueError(f"queue {queue.name!r}: dead-letter queue {dlq_name!r} does not exist")
        queue.set_redrive(self._queues[dlq_name], max_receive_count)

    def _notification(
        self,
        topic: _Topic,
        message_id: str,
        message: str,
        attributes: Mapping[str, Mapping[str, Any]],
        encoded_message: str | None = None,
    ) -> str:
        """The SNS notification JSON an SQS subscriber without raw delivery receives."""
        now = self.clock.now().astimezone(UTC)
        notification: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic.arn,
            "Message": message,
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "SignatureVersion": "1",
        }
        if attributes:
            notification["MessageAttributes"] = {
                name: {
                    "Type": attribute["DataType"],
                    "Value": (
                        base64.b64encode(attribute["BinaryValue"]).decode("ascii")
                        if attribute["DataType"].startswith("Binary")
                        else attribute["StringValue"]
                    ),
                }
                for name, attribute in attributes.items()
            }
        if encoded_message is None:
            return json.dumps(notification)
        # The same JSON, with the (large) message spliced in rather than encoded again here.
        notification["Message"] = None
        head, _, tail = json.dumps(notification).partition('"Message": null')
        return head + '"Message": ' + encoded_message + tail

    def _emit(self, event: str, details: dict[str, Any]) -> None:
        for callback in self.on_event:
            callback(event, details)
