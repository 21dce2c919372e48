"""Consuming one handler's SQS queue, on any backend: long polls, bounded concurrency, visibility, settling.

- The receive loop long-polls (``WaitTimeSeconds=20``) for as many messages as there are free
  slots (``max_number_of_consumed_messages`` in flight per handler). Each message is handled in
  its own task; a slot is freed when its message is settled, so a slow message does not hold
  back the next receive.
- While a handler runs, its message's visibility timeout is extended once half of it has
  passed (on the client's clock), so a long handler does not cause a second delivery; the
  extension stops before a retry delay is set, and never overrides it.
- Settling: a handled message is deleted. Otherwise the handler's retry policy decides
  (``MessageHandler.decide``, with the attempt from ``ApproximateReceiveCount``): a retry
  leaves the message in the queue and sets its visibility timeout to the retry delay
  (``ChangeMessageVisibility``, whole seconds, at most 12 hours), so SQS itself delivers it
  again then; a dead-letter sends it to the handler's dead-letter queue, then deletes it (a
  handler without one drops it: deleted, logged at ERROR); a drop deletes it. A retry whose
  visibility change fails is left as it is (the queue's visibility timeout applies; one
  WARNING per series of failures). On a FIFO queue a message waiting for its retry blocks its
  message group, as any message in flight does: FIFO order is kept.
- Every settled delivery is reported to the run's observers (``Settled``).
- Failed receives are retried with backoff and logged once per outage; a deleted queue makes
  the consumer set up its topology again.
- On stop the receive loop is cancelled at once; messages whose handlers are still running at
  the end of the grace period are made visible again (``VisibilityTimeout=0``).

The broker is a :class:`~.client.SnsSqsClient` (AWS or the in-memory model).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tomodachi.envelope._decode import off_loop
from tomodachi.errors import describe_exception
from tomodachi.logging import get_logger
from tomodachi.messaging.observe import Settled
from tomodachi.messaging.pipeline import Settle
from tomodachi.messaging.retry import Verdict
from tomodachi.messaging.slots import Slots
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.aws_sns_sqs.backoff import Backoff, Outage
from tomodachi.transport.aws_sns_sqs.clients import error_code
from tomodachi.transport.aws_sns_sqs.message import ReceivedMessage, parse
from tomodachi.transport.aws_sns_sqs.resolve import cap_attempts

if TYPE_CHECKING:
    from tomodachi.messaging.observe import Observers
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.tasks import TaskTracker
    from tomodachi.transport.aws_sns_sqs.client import QueueBinding, SnsSqsClient
    from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = [
    "GATHER_SECONDS",
    "MAX_VISIBILITY_TIMEOUT",
    "WAIT_TIME_SECONDS",
    "Backoff",
    "Outage",
    "QueueConsumer",
]

WAIT_TIME_SECONDS: Final = 20
#: How long a receive may wait for busy slots to free up, to ask for a fuller batch.
GATHER_SECONDS: Final = 0.02
_SETTLE_ATTEMPTS: Final = 4
_RELEASE_TIMEOUT: Final = 5.0
#: The longest visibility timeout SQS accepts (12 hours): the cap of a retry delay.
MAX_VISIBILITY_TIMEOUT: Final = 43200


@dataclass(slots=True)
class _InFlight:
    message_id: str
    extend_at: float


class QueueConsumer:
    """Receives and settles the messages of one handler (see the module docstring)."""

    def __init__(
        self,
        consumer: SqsConsumer,
        client: SnsSqsClient,
        binding: QueueBinding,
        tasks: TaskTracker,
        *,
        topic_prefix: str,
        set_up_again: Callable[[], Awaitable[QueueBinding]],
        observers: Observers,
        service_name: str,
    ) -> None:
        self.consumer = consumer
        self.client = client
        self.binding = binding
        self._tasks = tasks
        self._topic_prefix = topic_prefix
        self._set_up = set_up_again
        self._observers = observers
        self._service_name = service_name
        self._slots = Slots(consumer.batch_size)
        self._in_flight: dict[str, _InFlight] = {}
        self._extending: frozenset[str] = frozenset()  # receipts of the extension under way
        self._extension_done = asyncio.Event()
        self._busy = asyncio.Event()  # set when a message is taken in: wakes the idle extender
        self._delay_failing = False
        self._dead_letter_to = consumer.dead_letter_to or binding.dead_letter_name
        cap_attempts(consumer.pipeline, binding.redrive_max_receive_count)
        self.unfinished: list[str] = []
        self._log = get_logger("tomodachi.aws_sns_sqs").new(handler=consumer.handler.name, queue=binding.name)

    # -- receiving ----------------------------------------------------------------------------
    async def receive_loop(self) -> None:
        client, slots = self.client, self._slots
        outage = Outage(self._log, client.describe_error, "receive failed, retrying", "receiving again")
        name = self.consumer.handler.name
        # Per message: the loop at hand (Python 3.11 asks the OS for the pid to look it up), and a
        # copy of a context that has the handler's logger as the context logger already.
        loop = asyncio.get_running_loop()
        copy_context = self.consumer.pipeline.handler_context().copy
        while True:
            await slots.wait_free()
            await slots.gather(GATHER_SECONDS)
            try:
                messages = await client.receive_messages(self.binding.url, slots.free, WAIT_TIME_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if client.is_missing_queue(exc):
                    await self._set_up_again(outage)
                else:
                    await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            received_at = client.clock.monotonic()  # their visibility timeouts run from about now
            for message in messages:
                slots.take()
                self._tasks.spawn(
                    self._process(message, received_at),
                    name=f"aws_sns_sqs:{name}:{message.message_id}",
                    loop=loop,
                    context=copy_context(),
                )

    async def _set_up_again(self, outage: Outage) -> None:
        self._log.warning("the queue no longer exists: setting up its topology again")
        try:
            self.binding = await self._set_up()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await asyncio.sleep(outage.failed(exc))
        else:
            self._log.info("queue set up again")

    # -- one message ------------------------------------------------------------------------
    async def _process(self, message: ReceivedMessage, received_at: float) -> None:
        receipt = message.receipt_handle
        self._in_flight[receipt] = _InFlight(
            message.message_id, received_at + self.binding.visibility_timeout / 2
        )
        self._busy.set()
        finished = False
        try:
            # A large body is unwrapped off the event loop (JSON decoding of megabytes).
            payload, values = await off_loop(len(message.body), parse, message, self._topic_prefix)
            pipeline = self.consumer.pipeline
            if _hooks.active is None:  # not instrumented: the pipeline itself, in the handler's context
                outcome = await pipeline.deliver(
                    payload, values, message_id=message.message_id, in_handler_context=True
                )
            else:
                outcome = await pipeline(payload, values, message_id=message.message_id)
            delay: float | None = None
            if outcome.settle is Settle.ACK:  # the hot path: no decision to make
                result = "handled"
                await self._delete(message)
            else:
                result, delay = await self._settle_failure(message, outcome)
            finished = True
            sns_message_id = values["sns_message_id"]
            self.client.settled(self.consumer, message, sns_message_id, result, outcome)
            if self._observers.settled:
                self._report(message, sns_message_id, result, outcome, delay)
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

    def _report(
        self,
        message: ReceivedMessage,
        sns_message_id: str,
        result: str,
        outcome: Outcome,
        delay: float | None,
    ) -> None:
        self._observers.report_settled(
            Settled(
                frozenset((message.message_id, sns_message_id)) - {""},
                self._service_name,
                "aws_sns_sqs",
                self.consumer.handler.name,
                message.receive_count or 1,
                result,
                outcome.reason,
                outcome.error,
                delay,
            )
        )

    async def _settle_failure(self, message: ReceivedMessage, outcome: Outcome) -> tuple[str, float | None]:
        """Carry out the retry policy's decision; returns the result and the retry delay."""
        attempt = message.receive_count or 1
        dead_letter_to = self._dead_letter_to
        decision = self.consumer.pipeline.decide(
            outcome, attempt, message_id=message.message_id, dead_letter_to=dead_letter_to
        )
        verdict = decision.verdict
        if verdict is Verdict.RETRY:
            return "retry", await self._retry_later(message, decision.delay)
        if verdict is Verdict.DEAD_LETTER and dead_letter_to is not None:
            if not await self._dead_letter(message):
                return "retry", None  # not sent: left in the queue, delivered again (and redriven)
            await self._delete(message)
            return "dead_lettered", None
        await self._delete(message)  # dropped (logged at ERROR by decide())
        return "dropped", None

    async def _delete(self, message: ReceivedMessage) -> None:
        delete = self.client.delete_message
        await self._with_retries(
            "delete message", message, lambda: delete(message.queue_url, message.receipt_handle)
        )

    async def _retry_later(self, message: ReceivedMessage, delay: float) -> float | None:
        """Leave *message* in the queue, visible again in *delay* seconds (``ChangeMessageVisibility``).

        Returns the delay applied (whole seconds, as SQS takes them), or ``None`` when the change
        failed: the message then comes back after the rest of its visibility timeout.
        """
        receipt = message.receipt_handle
        # No more extensions of this message; one already on its way must land before ours.
        self._in_flight.pop(receipt, None)
        if receipt in self._extending:
            await self._extension_done.wait()
        seconds = min(max(math.ceil(delay), 0), MAX_VISIBILITY_TIMEOUT)
        try:
            failed = await self.client.change_visibility(message.queue_url, (receipt,), seconds)
            error = "the broker refused the visibility change" if failed else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = self.client.describe_error(exc)
        if error is None:
            if self._delay_failing:
                self._delay_failing = False
                self._log.info("retry delays work again")
            return float(seconds)
        if not self._delay_failing:  # once per series of failures, without a traceback
            self._delay_failing = True
            self._log.warning(
                "could not delay the retry of a message; it is delivered again after the queue's "
                "visibility timeout",
                message_id=message.message_id,
                error=error,
                visibility_timeout=self.binding.visibility_timeout,
            )
        return None

    async def _dead_letter(self, message: ReceivedMessage) -> bool:
        url = self.binding.dead_letter_url
        if url is None:  # pragma: no cover - only called for a handler with a dead-letter queue
            return False
        fifo = self.consumer.fifo
        sent = await self._with_retries(
            "send message to the dead-letter queue",
            message,
            lambda: self.client.dead_letter(url, message, fifo=fifo),
        )
        if sent:  # decide() logged the WARNING line
            self._log.debug("message sent to the dead-letter queue", message_id=message.message_id)
        return sent

    async def _with_retries(
        self, what: str, message: ReceivedMessage, call: Callable[[], Awaitable[object]]
    ) -> bool:
        backoff = Backoff(first=0.2, cap=2.0)
        for attempt in range(1, _SETTLE_ATTEMPTS + 1):
            try:
                await call()
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt < _SETTLE_ATTEMPTS and self.client.is_transient(exc):
                    await asyncio.sleep(backoff.next())
                    continue
                self._log.error(
                    f"could not {what}; it will be delivered again",
                    message_id=message.message_id,
                    error=self.client.describe_error(exc),
                    code=error_code(exc),
                )
                return False
        return False  # pragma: no cover

    # -- visibility ---------------------------------------------------------------------------
    async def extend_loop(self) -> None:
        """Extend the visibility of messages whose handlers are still running."""
        clock = self.client.clock
        busy = self._busy
        while True:
            if not self._in_flight:  # idle: no timer (a ManualClock then skips ahead in one step)
                busy.clear()
                await busy.wait()
            timeout = self.binding.visibility_timeout
            await clock.sleep(max(timeout / 6, 0.1) if timeout > 0 else 1.0)
            if timeout <= 0 or not self._in_flight:
                continue
            now = clock.monotonic()
            due = [(receipt, item) for receipt, item in self._in_flight.items() if item.extend_at <= now]
            for start in range(0, len(due), 10):
                chunk = [
                    (receipt, item) for receipt, item in due[start : start + 10] if receipt in self._in_flight
                ]
                if not chunk:
                    continue
                receipts = [receipt for receipt, _ in chunk]
                # A retry settled meanwhile waits for this call before it sets its own delay.
                self._extending, done = frozenset(receipts), asyncio.Event()
                self._extension_done = done
                try:
                    extended = await self._change_visibility(receipts, timeout)
                finally:
                    self._extending = frozenset()
                    done.set()
                if extended:
                    for _, item in chunk:
                        item.extend_at = now + timeout / 2

    async def _change_visibility(self, receipts: Sequence[str], visibility: float) -> bool:
        try:
            failed = await self.client.change_visibility(self.binding.url, receipts, visibility)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.warning(
                "could not change the visibility of messages",
                error=self.client.describe_error(exc),
                count=len(receipts),
            )
            return False
        if failed and visibility == 0:
            self._log.warning("could not return some messages to the queue", count=failed)
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
