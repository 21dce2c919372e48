"""One in-memory Amazon SQS queue, standard or FIFO, running on a :class:`~tomodachi.clock.Clock`.

What it models (AWS semantics, no network):

- ``delay_seconds``: a new message stays invisible until its delay is over;
- receiving makes a message invisible for the visibility timeout and gives it a new receipt
  handle; it comes back (with a higher receive count) unless deleted in time;
- redrive: a message already received ``max_receive_count`` times is moved to the
  dead-letter queue at its next receive instead of being delivered;
- FIFO queues deliver each message group in order, and a group with a message in flight is
  blocked until that message is deleted or visible again; a deduplication id seen in the
  last five minutes is accepted, not enqueued, and answered with the original message id;
- long polling waits on the clock for a message or the end of the wait, without polling.

Internally every message is in one of four states; heaps keep the delay and visibility
deadlines, so sends, receives and expiries cost O(log n).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tomodachi.clock import Clock
from tomodachi.transport.memory.sqs_backlog import (
    DELAYED,
    DELETED,
    INFLIGHT,
    VISIBLE,
    FifoBacklog,
    StandardBacklog,
    Stored,
)

__all__ = [
    "DEDUPLICATION_IDS",
    "DEDUPLICATION_WINDOW",
    "DedupWindow",
    "SqsMessage",
    "SqsQueue",
    "validate_message_attributes",
]

#: How long (seconds) a FIFO deduplication id is remembered.
DEDUPLICATION_WINDOW = 300.0
#: How many deduplication ids a queue (or FIFO topic) remembers at most: past it, the oldest is
#: forgotten before its window ends (AWS has no such cap; this model keeps its memory bounded).
DEDUPLICATION_IDS = 100_000
EventHook = Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class SqsMessage:
    """A received message, as ``ReceiveMessage`` returns it."""

    message_id: str
    body: str
    message_attributes: dict[str, dict[str, Any]]  #: botocore form {"name": {"DataType", "StringValue"}}
    receipt_handle: str  #: new on every receive; delete and change visibility with the latest
    receive_count: int  #: ApproximateReceiveCount, this receive included
    group_id: str | None
    deduplication_id: str | None
    sent_timestamp: float  #: seconds since the epoch, from the queue's clock


def validate_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise ``ValueError`` unless *attributes* are well-formed botocore message attributes."""
    for name, attribute in attributes.items():
        data_type = attribute.get("DataType") if isinstance(attribute, Mapping) else None
        if not isinstance(data_type, str) or data_type.split(".", 1)[0] not in ("String", "Number", "Binary"):
            raise ValueError(f"message attribute {name!r}: DataType must be String, Number or Binary")
        if data_type.startswith("Binary"):
            if not isinstance(attribute.get("BinaryValue"), bytes | bytearray):
                raise ValueError(f"message attribute {name!r}: a Binary attribute needs a bytes BinaryValue")
        elif not isinstance(attribute.get("StringValue"), str):
            raise ValueError(f"message attribute {name!r}: a {data_type} attribute needs a str StringValue")


class DedupWindow:
    """Deduplication ids seen in the last :data:`DEDUPLICATION_WINDOW` seconds of *clock* time
    (the latest :data:`DEDUPLICATION_IDS` of them at most)."""

    def __init__(
        self, clock: Clock, seconds: float = DEDUPLICATION_WINDOW, *, limit: int | None = None
    ) -> None:
        self._clock = clock
        self._window = timedelta(seconds=seconds)
        self._limit = DEDUPLICATION_IDS if limit is None else limit
        self._seen: dict[str, str] = {}  # deduplication id -> message id
        self._expiry: deque[tuple[datetime, str]] = deque()  # in the order ids were seen

    def original(self, deduplication_id: str) -> str | None:
        """The message id first sent with *deduplication_id*, if still within the window."""
        now = self._clock.now()
        while self._expiry and self._expiry[0][0] <= now:
            self._seen.pop(self._expiry.popleft()[1], None)
        return self._seen.get(deduplication_id)

    def remember(self, deduplication_id: str, message_id: str) -> None:
        """Record that *deduplication_id* was sent now as *message_id*."""
        self._seen[deduplication_id] = message_id
        self._expiry.append((self._clock.now() + self._window, deduplication_id))
        while len(self._expiry) > self._limit:
            self._seen.pop(self._expiry.popleft()[1], None)

    def __len__(self) -> int:
        return len(self._seen)


class SqsQueue:
    """One queue. :class:`~.sns_sqs_broker.SnsSqsBroker` owns these; tests may use one directly.

    *emit*, if given, is called with ``("delivered", {"queue", "message_id"})`` when a message is
    enqueued, ``("received", {"queue", "message_id", "receive_count"})`` and
    ``("dead_lettered", {"queue", "dlq", "message_id", "receive_count"})``.
    """

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        fifo: bool = False,
        visibility_timeout: float = 30,
        delay_seconds: float = 0,
        emit: EventHook | None = None,
    ) -> None:
        if not name or name.endswith(".fifo") != fifo:
            raise ValueError(f"queue name {name!r}: FIFO queue names, and only those, end with '.fifo'")
        _check_seconds("visibility_timeout", visibility_timeout)
        _check_seconds("delay_seconds", delay_seconds)
        self.name = name
        self.fifo = fifo
        self.visibility_timeout = visibility_timeout
        self.delay_seconds = delay_seconds
        self.dead_letter_queue: SqsQueue | None = None
        self.max_receive_count = 0
        self._clock = clock
        self._emit = emit or (lambda event, details: None)
        self._backlog = FifoBacklog() if fifo else StandardBacklog()
        self._delayed: list[tuple[datetime, int, Stored]] = []
        self._inflight: list[tuple[datetime, int, int, Stored]] = []  # (deadline, seq, version, message)
        self._handles: dict[str, Stored] = {}  # the current receipt handle of each message
        self._counts = [0, 0, 0, 0]  # messages per state
        self._waiters: set[asyncio.Future[None]] = set()  # pending long polls
        self._dedup = DedupWindow(clock)
        self._seq = itertools.count()

    # -- configuration -------------------------------------------------------------------
    def set_redrive(self, dead_letter_queue: SqsQueue | None, max_receive_count: int = 1) -> None:
        """Move messages received *max_receive_count* times to *dead_letter_queue* (None: never)."""
        if dead_letter_queue is not None:
            if max_receive_count < 1:
                raise ValueError("max_receive_count must be at least 1")
            if dead_letter_queue is self or dead_letter_queue.fifo != self.fifo:
                raise ValueError("the dead-letter queue must be another queue of the same type (FIFO or not)")
        self.dead_letter_queue = dead_letter_queue
        self.max_receive_count = max_receive_count if dead_letter_queue is not None else 0

    @property
    def visible_count(self) -> int:
        """ApproximateNumberOfMessages: messages ready to be received."""
        return self._counts[VISIBLE]

    @property
    def inflight_count(self) -> int:
        """ApproximateNumberOfMessagesNotVisible: received, neither deleted nor visible again."""
        return self._counts[INFLIGHT]

    @property
    def delayed_count(self) -> int:
        """ApproximateNumberOfMessagesDelayed: sent, still within their delay."""
        return self._counts[DELAYED]

    # -- SendMessage / ReceiveMessage / DeleteMessage / ... ------------------------------
    def send(
        self,
        body: str,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        delay_seconds: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        """Enqueue a message; returns its message id (the original one for a FIFO duplicate)."""
        if self.fifo:
            if not group_id or not deduplication_id:
                raise ValueError(f"FIFO queue {self.name!r}: group_id and deduplication_id are required")
            if delay_seconds is not None:
                raise ValueError(f"FIFO queue {self.name!r}: per-message delay_seconds is not supported")
            original = self._dedup.original(deduplication_id)
            if original is not None:
                return original
        elif group_id is not None or deduplication_id is not None:
            raise ValueError(f"queue {self.name!r}: group_id and deduplication_id are for FIFO queues only")
        if delay_seconds is not None:
            _check_seconds("delay_seconds", delay_seconds)
        attributes = {name: dict(value) for name, value in (message_attributes or {}).items()}
        validate_message_attributes(attributes)
        message_id = str(uuid.uuid4())
        if deduplication_id is not None:
            self._dedup.remember(deduplication_id, message_id)
        sent = self._clock.now().timestamp()
        message = Stored(next(self._seq), message_id, body, attributes, group_id, deduplication_id, sent)
        self._enqueue(message, self.delay_seconds if delay_seconds is None else delay_seconds)
        return message_id

    async def receive(
        self,
        max_messages: int = 10,
        wait_seconds: float = 20,
        visibility_timeout: float | None = None,
    ) -> list[SqsMessage]:
        """Up to *max_messages* messages as soon as any is available, or ``[]`` after *wait_seconds*."""
        if not 1 <= max_messages <= 10:
            raise ValueError("max_messages must be between 1 and 10")
        _check_seconds("wait_seconds", wait_seconds)
        if visibility_timeout is None:
            visibility_timeout = self.visibility_timeout
        _check_seconds("visibility_timeout", visibility_timeout)
        deadline = self._clock.now() + timedelta(seconds=wait_seconds)
        while True:
            now = self._clock.now()
            messages = self._take(now, max_messages, visibility_timeout)
            if messages or now >= deadline:
                return messages
            # Sleep until something may have changed: a send or a release wakes the waiter;
            # a delay or visibility timeout ending is a clock deadline.
            wake_at = min([deadline, *(heap[0][0] for heap in (self._delayed, self._inflight) if heap)])
            await self._wait(wake_at)

    def delete(self, receipt_handle: str) -> None:
        """Delete the message; a stale handle (re-received since, or deleted) is ignored, as in SQS."""
        message = self._handles.pop(receipt_handle, None)
        if message is None:
            return
        self._backlog.remove(message)
        self._set_state(message, DELETED)
        if self.fifo:
            self._notify()  # the message's group may be unblocked

    def change_visibility(self, receipt_handle: str, timeout: float) -> None:
        """Make an in-flight message visible again after *timeout* seconds (0: now)."""
        _check_seconds("timeout", timeout)
        message = self._handles.get(receipt_handle)
        if message is None:
            raise ValueError(f"queue {self.name!r}: receipt handle {receipt_handle!r} is not valid")
        if message.state != INFLIGHT:
            raise ValueError(f"queue {self.name!r}: message {message.message_id} is not in flight")
        message.version += 1
        deadline = self._clock.now() + timedelta(seconds=timeout)
        heapq.heappush(self._inflight, (deadline, message.seq, message.version, message))
        self._release_due(self._clock.now())  # releases it now if timeout is 0
        self._notify()  # long polls sleeping until the old deadline must look again

    def purge(self) -> None:
        """Delete every message, in flight or not."""
        self._backlog.clear()
        self._delayed.clear()
        self._inflight.clear()
        self._handles.clear()
        self._counts = [0, 0, 0, 0]

    # -- internals -----------------------------------------------------------------------
    def _enqueue(self, message: Stored, delay: float) -> None:
        self._backlog.add(message)
        if delay > 0:
            message.state = DELAYED
            due = self._clock.now() + timedelta(seconds=delay)
            heapq.heappush(self._delayed, (due, message.seq, message))
        else:
            message.state = VISIBLE
            self._backlog.visible(message, returned=False)
        self._counts[message.state] += 1
        self._notify()  # a new message, or a new delay deadline to sleep until
        self._emit("delivered", {"queue": self.name, "message_id": message.message_id})

    def _take(self, now: datetime, limit: int, visibility_timeout: float) -> list[SqsMessage]:
        self._release_due(now)
        deadline = now + timedelta(seconds=visibility_timeout)
        taken = self._backlog.take(limit, lambda message: self._admit(message, deadline))
        received = [
            SqsMessage(
                message.message_id,
                message.body,
                {name: dict(value) for name, value in message.attributes.items()},
                message.receipt_handle or "",
                message.receive_count,
                message.group_id,
                message.deduplication_id,
                message.sent_timestamp,
            )
            for message in taken
        ]
        if taken:
            if visibility_timeout == 0:
                self._release_due(now)  # visible again at once, for any other receiver
            self._notify()  # other long polls must also wake at these new visibility deadlines
        return received

    def _admit(self, message: Stored, deadline: datetime) -> bool:
        """Receive *message* (True), or move it to the dead-letter queue (False)."""
        dlq = self.dead_letter_queue
        if dlq is not None and message.receive_count >= self.max_receive_count:
            self._backlog.remove(message)
            self._set_state(message, DELETED)
            if message.receipt_handle is not None:
                self._handles.pop(message.receipt_handle, None)
            self._emit(
                "dead_lettered",
                {
                    "queue": self.name,
                    "dlq": dlq.name,
                    "message_id": message.message_id,
                    "receive_count": message.receive_count,
                },
            )
            # The moved message keeps its id, body, attributes, send time and receive count
            # (SQS keeps counting in the dead-letter queue, as moto does).
            moved = replace(message, seq=next(dlq._seq), receipt_handle=None, version=0)
            dlq._enqueue(moved, 0)
            return False
        message.receive_count = count = message.receive_count + 1
        if message.receipt_handle is not None:
            self._handles.pop(message.receipt_handle, None)
        message.receipt_handle = uuid.uuid4().hex
        self._handles[message.receipt_handle] = message
        self._set_state(message, INFLIGHT)
        message.version += 1
        heapq.heappush(self._inflight, (deadline, message.seq, message.version, message))
        self._emit("received", {"queue": self.name, "message_id": message.message_id, "receive_count": count})
        return True

    def _release_due(self, now: datetime) -> None:
        """Make messages whose delay or visibility timeout is over visible."""
        released = False
        while self._delayed and self._delayed[0][0] <= now:
            _, _, message = heapq.heappop(self._delayed)
            if message.state == DELAYED:
                self._set_state(message, VISIBLE)
                self._backlog.visible(message, returned=False)
                released = True
        while self._inflight and self._inflight[0][0] <= now:
            _, _, version, message = heapq.heappop(self._inflight)
            if message.state == INFLIGHT and message.version == version:
                self._set_state(message, VISIBLE)
                self._backlog.visible(message, returned=True)
                released = True
        if released:
            self._notify()

    def _set_state(self, message: Stored, state: int) -> None:
        self._counts[message.state] -= 1
        self._counts[state] += 1
        message.state = state

    def _notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _wait(self, until: datetime) -> None:
        """Return when :meth:`_notify` is called or the clock reaches *until*."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        sleeper = asyncio.ensure_future(self._clock.sleep_until(until))
        try:
            await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiters.discard(waiter)
            waiter.cancel()
            if not sleeper.done():
                sleeper.cancel()
                await asyncio.wait((sleeper,))  # leave no task behind


def _check_seconds(name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, not {value!r}")
