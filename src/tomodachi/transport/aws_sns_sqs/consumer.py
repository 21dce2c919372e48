"""Consuming one handler's SQS queue: long polling, bounded concurrency, visibility, settling.

- The receive loop long-polls (``WaitTimeSeconds=20``) for as many messages as there are free
  slots (``max_number_of_consumed_messages`` in flight per handler). Each message is handled in
  its own task; a slot is freed when its message is settled, so a slow message does not hold
  back the next receive.
- While a handler runs, its message's visibility timeout is extended (``ChangeMessageVisibility``
  once half of it has passed), so a long handler does not cause a second delivery.
- Settling follows :meth:`AWSSNSSQSTransport.action`: delete after success, leave for redelivery
  on retry, send to the handler's dead-letter queue (then delete), or drop (delete, logged).
- Failed receives are retried with backoff and logged once per outage; a deleted queue makes
  the consumer set up its topology again.
- On stop the receive loop is cancelled at once; messages whose handlers are still running at
  the end of the grace period are made visible again (``VisibilityTimeout=0``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from tomodachi.errors import describe_exception
from tomodachi.logging import Logger, get_logger
from tomodachi.messaging.slots import Slots
from tomodachi.transport.aws_sns_sqs.clients import (
    AwsClients,
    describe_error,
    error_code,
    is_missing_queue,
    is_transient,
)
from tomodachi.transport.aws_sns_sqs.topology import ConsumerTopology
from tomodachi.transport.aws_sns_sqs.transport import Action, ReceivedMessage, SqsConsumer

if TYPE_CHECKING:
    from tomodachi._tasks import TaskTracker
    from tomodachi.transport.aws_sns_sqs.transport import AWSSNSSQSTransport

__all__ = ["WAIT_TIME_SECONDS", "Backoff", "Outage", "QueueConsumer"]

WAIT_TIME_SECONDS: Final = 20
#: How long a receive may wait for busy slots to free up, to ask for a fuller batch.
GATHER_SECONDS: Final = 0.02
SYSTEM_ATTRIBUTES: Final = ["ApproximateReceiveCount", "MessageDeduplicationId", "MessageGroupId"]
_SETTLE_ATTEMPTS: Final = 4
_RELEASE_TIMEOUT: Final = 5.0
_ATTRIBUTE_FIELDS: Final = ("DataType", "StringValue", "BinaryValue")


class Backoff:
    """Exponential delays with jitter: 0.5 s, 1 s, 2 s, ... up to *cap*."""

    def __init__(self, first: float = 0.5, cap: float = 20.0) -> None:
        self.first, self.cap, self.attempt = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return delay * (0.75 + random.random() / 4)

    def reset(self) -> None:
        self.attempt = 0


class Outage:
    """Logs the first failure of a series and the recovery, not each retry in between."""

    #: The first retry delay (seconds); doubled per failure up to 20 s.
    first_delay: ClassVar[float] = 0.5

    def __init__(self, log: Logger, failed: str, recovered: str, **fields: Any) -> None:
        self._log, self._failed, self._recovered, self._fields = log, failed, recovered, fields
        self._backoff = Backoff(first=self.first_delay)
        self._since: float | None = None
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns the seconds to wait before retrying."""
        self.failures += 1
        if self._since is None:
            self._since = asyncio.get_running_loop().time()
            self._log.warning(self._failed, error=describe_error(exc), **self._fields)
        return self._backoff.next()

    def recovered(self) -> None:
        if self._since is None:
            return
        elapsed = asyncio.get_running_loop().time() - self._since
        self._log.info(self._recovered, failures=self.failures, seconds=round(elapsed, 1), **self._fields)
        self._since, self.failures = None, 0
        self._backoff.reset()


@dataclass(slots=True)
class _InFlight:
    message_id: str
    extend_at: float


class QueueConsumer:
    """Receives and settles the messages of one handler (see the module docstring)."""

    def __init__(
        self,
        transport: AWSSNSSQSTransport,
        consumer: SqsConsumer,
        clients: AwsClients,
        topology: ConsumerTopology,
        tasks: TaskTracker,
        resetup: Callable[[], Awaitable[ConsumerTopology]],
    ) -> None:
        self.transport = transport
        self.consumer = consumer
        self.clients = clients
        self.topology = topology
        self._tasks = tasks
        self._resetup = resetup
        self._slots = Slots(consumer.batch_size)
        self._in_flight: dict[str, _InFlight] = {}
        self.unfinished: list[str] = []
        self._log = get_logger("tomodachi.aws_sns_sqs").new(
            handler=consumer.handler.name, queue=topology.queue.name
        )

    @property
    def queue_url(self) -> str:
        return self.topology.queue.url

    # -- receiving ----------------------------------------------------------------------------
    async def receive_loop(self) -> None:
        outage = Outage(self._log, "receive failed, retrying", "receiving again")
        parameter = await self.clients.system_attributes_parameter()
        system_attributes: dict[str, Any] = {parameter: SYSTEM_ATTRIBUTES}
        while True:
            await self._slots.wait_free()
            await self._slots.gather(GATHER_SECONDS)
            wanted = self._slots.free
            try:
                response = await self.clients.call(
                    "sqs",
                    "receive_message",
                    QueueUrl=self.queue_url,
                    WaitTimeSeconds=WAIT_TIME_SECONDS,
                    MaxNumberOfMessages=wanted,
                    MessageAttributeNames=["All"],
                    **system_attributes,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_missing_queue(exc):
                    await self._set_up_again(outage)
                else:
                    await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            received_at = asyncio.get_running_loop().time()  # their visibility timeouts run from about now
            for raw in response.get("Messages") or []:
                self._slots.take()
                name = f"aws_sns_sqs:{self.consumer.handler.name}:{raw.get('MessageId', '')}"
                self._tasks.spawn(self._process(raw, received_at), name=name)

    async def _set_up_again(self, outage: Outage) -> None:
        self._log.warning("the queue no longer exists: setting up its topology again")
        try:
            self.topology = await self._resetup()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await asyncio.sleep(outage.failed(exc))
        else:
            self._log.info("queue set up again")

    # -- one message ------------------------------------------------------------------------
    async def _process(self, raw: dict[str, Any], received_at: float) -> None:
        receipt = str(raw.get("ReceiptHandle", ""))
        system = raw.get("Attributes") or {}
        count = system.get("ApproximateReceiveCount")
        message = ReceivedMessage(
            body=str(raw.get("Body") or ""),
            message_id=str(raw.get("MessageId", "")),
            receipt_handle=receipt,
            attributes=raw.get("MessageAttributes") or {},
            receive_count=int(count) if isinstance(count, str) and count.isdigit() else None,
            group_id=system.get("MessageGroupId"),
            deduplication_id=system.get("MessageDeduplicationId"),
            queue_url=self.queue_url,
        )
        self._in_flight[receipt] = _InFlight(
            message.message_id, received_at + self.topology.visibility_timeout / 2
        )
        finished = False
        try:
            payload, values = self.transport.parse(self.consumer, message)
            outcome = await self.consumer.pipeline(payload, values, message_id=message.message_id)
            action = self.transport.action(self.consumer, outcome, message.message_id)
            await self._settle(action, message)
            finished = True
        except asyncio.CancelledError:
            if not finished:
                self.unfinished.append(receipt)
            raise
        except Exception as exc:  # a bug here must not kill the consumer; the message is left
            self._log.error(
                "could not process message", message_id=message.message_id, error=describe_exception(exc)
            )
        finally:
            self._in_flight.pop(receipt, None)
            self._slots.give()

    async def _settle(self, action: Action, message: ReceivedMessage) -> None:
        if action is Action.LEAVE:
            return
        if action is Action.DEAD_LETTER and not await self._dead_letter(message):
            return  # not sent: left in the queue, to be redelivered (and redriven) later
        await self._with_retries(
            "delete message",
            message,
            "delete_message",
            QueueUrl=message.queue_url,
            ReceiptHandle=message.receipt_handle,
        )

    async def _dead_letter(self, message: ReceivedMessage) -> bool:
        url = self.topology.dead_letter_url
        if url is None:  # pragma: no cover - action() only returns DEAD_LETTER with a DLQ
            return True
        request: dict[str, Any] = {"QueueUrl": url, "MessageBody": message.body}
        attributes = {
            name: {k: v for k, v in value.items() if k in _ATTRIBUTE_FIELDS}
            for name, value in message.attributes.items()
            if isinstance(value, dict)
        }
        if attributes:
            request["MessageAttributes"] = attributes
        if self.consumer.fifo:
            request["MessageGroupId"] = message.group_id or "tomodachi"
            request["MessageDeduplicationId"] = message.deduplication_id or message.message_id
        sent = await self._with_retries(
            "send message to the dead-letter queue", message, "send_message", **request
        )
        if sent:
            self._log.warning("message sent to the dead-letter queue", message_id=message.message_id)
        return sent

    async def _with_retries(self, what: str, message: ReceivedMessage, operation: str, **kwargs: Any) -> bool:
        backoff = Backoff(first=0.2, cap=2.0)
        for attempt in range(1, _SETTLE_ATTEMPTS + 1):
            try:
                await self.clients.call("sqs", operation, **kwargs)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt < _SETTLE_ATTEMPTS and is_transient(exc):
                    await asyncio.sleep(backoff.next())
                    continue
                self._log.error(
                    f"could not {what}; it will be delivered again",
                    message_id=message.message_id,
                    error=describe_error(exc),
                    code=error_code(exc),
                )
                return False
        return False  # pragma: no cover

    # -- visibility ---------------------------------------------------------------------------
    async def extend_loop(self) -> None:
        """Extend the visibility of messages whose handlers are still running."""
        while True:
            timeout = self.topology.visibility_timeout
            await asyncio.sleep(max(timeout / 6, 0.1) if timeout > 0 else 1.0)
            if timeout <= 0 or not self._in_flight:
                continue
            now = asyncio.get_running_loop().time()
            due = [(receipt, item) for receipt, item in self._in_flight.items() if item.extend_at <= now]
            for start in range(0, len(due), 10):
                chunk = due[start : start + 10]
                if await self._change_visibility([receipt for receipt, _ in chunk], timeout):
                    for _, item in chunk:
                        item.extend_at = now + timeout / 2

    async def _change_visibility(self, receipts: list[str], visibility: int) -> bool:
        entries = [
            {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": visibility}
            for i, receipt in enumerate(receipts)
        ]
        try:
            response = await self.clients.call(
                "sqs", "change_message_visibility_batch", QueueUrl=self.queue_url, Entries=entries
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.warning(
                "could not change the visibility of messages", error=describe_error(exc), count=len(entries)
            )
            return False
        failed = response.get("Failed") or []
        if failed and visibility == 0:
            self._log.warning("could not return some messages to the queue", count=len(failed))
        return True

    async def release_unfinished(self) -> None:
        """Make the messages of cancelled handlers visible again at once (``VisibilityTimeout=0``)."""
        receipts, self.unfinished = self.unfinished, []
        if not receipts:
            return
        try:
            async with asyncio.timeout(_RELEASE_TIMEOUT):
                for start in range(0, len(receipts), 10):
                    await self._change_visibility(receipts[start : start + 10], 0)
        except TimeoutError:
            self._log.warning("timed out returning unfinished messages to the queue", count=len(receipts))
            return
        self._log.info("returned unfinished messages to the queue", count=len(receipts))
