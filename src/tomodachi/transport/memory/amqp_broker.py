"""An in-memory AMQP 0-9-1 broker model: exchanges, queues, bindings and competing consumers.

What it models (RabbitMQ semantics, no network, no threads):

- exchanges of type ``topic`` (``*``/``#`` patterns, see :mod:`.topic_match`), ``direct`` and
  ``fanout``; the default exchange ``""`` routes to the queue named by the routing key, and
  ``amq.topic`` always exists;
- a published message is copied once into every queue with a matching binding (one copy per
  queue, however many of its bindings match); unroutable messages are dropped;
- consumers on one queue compete for its messages, the longest-waiting consumer first, each
  limited to *prefetch* unacknowledged deliveries;
- ``nack(requeue=True)`` and a cancelled consumer put messages back at the head of the queue,
  flagged as redelivered; ``nack(requeue=False)`` dead-letters to the queue's dead-letter
  exchange, if it has one;
- a queue with a message TTL (``x-message-ttl``) dead-letters each message that waited that long
  (reason ``expired``, recorded in an ``x-death`` header as RabbitMQ does), on the broker's
  clock: a ``ManualClock`` moves it (what delayed retries are built on).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi.clock import Clock, SystemClock
from tomodachi.transport.memory.topic_match import topic_matches

__all__ = ["AmqpBroker", "AmqpDelivery", "ConsumerCancelled", "QueueConsumer"]

_EXCHANGE_TYPES = frozenset({"topic", "direct", "fanout"})


class ConsumerCancelled(Exception):
    """Raised by :meth:`QueueConsumer.get` once the consumer is cancelled (or its queue deleted)."""


@dataclass(slots=True)
class AmqpDelivery:
    """One delivery of a message to a consumer."""

    body: bytes
    exchange: str
    routing_key: str  #: the routing key the message was published with
    message_id: str
    headers: dict[str, Any]
    delivery_tag: int
    redelivered: bool
    delivery_count: int  #: 1 on the first delivery, one more on each redelivery
    queue: str


@dataclass(slots=True)
class _Message:
    body: bytes
    exchange: str
    routing_key: str
    message_id: str
    headers: dict[str, Any]
    deliveries: int = 0
    redelivered: bool = False
    expires_at: float | None = None  # clock.monotonic() when a queue's message TTL ends it


@dataclass(slots=True)
class _Queue:
    name: str
    dead_letter_exchange: str | None
    dead_letter_routing_key: str | None
    ready: deque[_Message] = field(default_factory=deque)
    # Pending get() calls, longest-waiting first: (consumer, future to hand the message to).
    waiters: deque[tuple[QueueConsumer, asyncio.Future[tuple[int, _Message]]]] = field(default_factory=deque)
    consumers: list[QueueConsumer] = field(default_factory=list)
    bindings: set[tuple[str, str]] = field(default_factory=set)  # (exchange, pattern)
    unacked: int = 0
    message_ttl: float | None = None  # seconds
    expiry: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Exchange:
    type: str
    # pattern -> queues bound with it (a dict used as an ordered set)
    bindings: dict[str, dict[str, None]] = field(default_factory=dict)


class AmqpBroker:
    """The broker: a namespace of exchanges and queues (a RabbitMQ virtual host).

    ``on_event`` is a list of callbacks called synchronously as ``callback(event, details)`` for
    the events ``"routed"``, ``"requeued"`` and ``"dead_lettered"``.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._exchanges: dict[str, _Exchange] = {"": _Exchange("direct"), "amq.topic": _Exchange("topic")}
        self._queues: dict[str, _Queue] = {}
        self._next_tag = 0
        self.on_event: list[Callable[[str, dict[str, Any]], None]] = []

    # -- topology ------------------------------------------------------------------------
    def declare_exchange(self, name: str, type: str = "topic") -> None:
        """Create exchange *name*; redeclaring with the same type is a no-op."""
        if type not in _EXCHANGE_TYPES:
            raise ValueError(f"unsupported exchange type {type!r} (use one of {sorted(_EXCHANGE_TYPES)})")
        existing = self._exchanges.get(name)
        if existing is None:
            self._exchanges[name] = _Exchange(type)
        elif existing.type != type:
            raise ValueError(f"exchange {name!r} already exists with type {existing.type!r}, not {type!r}")

    def declare_queue(
        self,
        name: str,
        *,
        dead_letter_exchange: str | None = None,
        dead_letter_routing_key: str | None = None,
        message_ttl: int | None = None,
    ) -> None:
        """Create queue *name*, or update the dead-letter settings of an existing one.

        *message_ttl* (milliseconds, as ``x-message-ttl``): each message is dead-lettered once it
        has waited that long in the queue.
        """
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(name, dead_letter_exchange, dead_letter_routing_key)
        else:
            queue.dead_letter_exchange = dead_letter_exchange
            queue.dead_letter_routing_key = dead_letter_routing_key
        queue.message_ttl = message_ttl / 1000 if message_ttl is not None else None

    def delete_queue(self, name: str) -> None:
        """Delete queue *name* with its messages and bindings; its consumers are cancelled."""
        queue = self._queues.pop(name, None)
        if queue is None:
            return
        for exchange, pattern in queue.bindings:
            self._remove_binding(name, exchange, pattern)
        queue.ready.clear()
        if queue.expiry is not None:
            queue.expiry.cancel()
        for consumer in list(queue.consumers):
            consumer._close(requeue=False)

    def bind(self, queue: str, exchange: str, pattern: str) -> None:
        """Route messages of *exchange* whose routing key matches *pattern* to *queue*."""
        q = self._queue(queue)
        if exchange == "":
            raise ValueError("the default exchange cannot be bound to explicitly")
        ex = self._exchange(exchange)
        ex.bindings.setdefault(pattern, {})[queue] = None
        q.bindings.add((exchange, pattern))

    def unbind(self, queue: str, exchange: str, pattern: str) -> None:
        """Remove a binding; unknown bindings are ignored."""
        q = self._queues.get(queue)
        if q is not None and (exchange, pattern) in q.bindings:
            q.bindings.discard((exchange, pattern))
            self._remove_binding(queue, exchange, pattern)

    # -- messages ------------------------------------------------------------------------
    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> tuple[str, list[str]]:
        """Publish *body*; returns the message id and the names of the queues it was routed to."""
        ex = self._exchange(exchange)
        if message_id is None:
            message_id = uuid.uuid4().hex
        targets = self._route(exchange, ex, routing_key)
        for name in targets:
            message = _Message(body, exchange, routing_key, message_id, dict(headers or {}))
            queue = self._queues[name]
            if queue.message_ttl is not None:
                message.expires_at = self.clock.monotonic() + queue.message_ttl
                self._watch_expiry(queue)
            queue.ready.append(message)
            self._dispatch(queue)
        self._emit(
            "routed",
            {"exchange": exchange, "routing_key": routing_key, "message_id": message_id, "queues": targets},
        )
        return message_id, targets

    def consume(self, queue: str, *, prefetch: int = 0) -> QueueConsumer:
        """Start a consumer on *queue*, allowed *prefetch* unacked deliveries (0: no limit)."""
        if prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        q = self._queue(queue)
        consumer = QueueConsumer(self, q, prefetch)
        q.consumers.append(consumer)
        return consumer

    def queue_depth(self, queue: str) -> int:
        """Messages of *queue* ready for delivery (not counting unacknowledged ones)."""
        return len(self._queue(queue).ready)

    def unacked(self, queue: str) -> int:
        """Messages of *queue* delivered to a consumer and not yet acknowledged."""
        return self._queue(queue).unacked

    def consumer_count(self, queue: str) -> int:
        """Active consumers of *queue*."""
        return len(self._queue(queue).consumers)

    async def close(self) -> None:
        """Stop the message-TTL timers (the run ended; messages stay where they are)."""
        timers = [queue.expiry for queue in self._queues.values() if queue.expiry is not None]
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    # -- internals -----------------------------------------------------------------------
    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise ValueError(f"no queue named {name!r}")
        return queue

    def _exchange(self, name: str) -> _Exchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            raise ValueError(f"no exchange named {name!r}")
        return exchange

    def _remove_binding(self, queue: str, exchange: str, pattern: str) -> None:
        ex = self._exchanges.get(exchange)
        if ex is None:
            return
        queues = ex.bindings.get(pattern)
        if queues is not None:
            queues.pop(queue, None)
            if not queues:
                del ex.bindings[pattern]

    def _route(self, name: str, exchange: _Exchange, routing_key: str) -> list[str]:
        if name == "":
            return [routing_key] if routing_key in self._queues else []
        targets: dict[str, None] = {}  # ordered, and one entry per queue however many bindings match
        for pattern, queues in exchange.bindings.items():
            if exchange.type == "fanout" or (
                pattern == routing_key if exchange.type == "direct" else topic_matches(pattern, routing_key)
            ):
                targets.update(queues)
        return list(targets)

    def _dispatch(self, queue: _Queue) -> None:
        """Hand ready messages to waiting consumers that have room, longest-waiting first."""
        if not queue.ready or not queue.waiters:
            return
        skipped: deque[tuple[QueueConsumer, asyncio.Future[tuple[int, _Message]]]] = deque()
        while queue.ready and queue.waiters:
            consumer, future = queue.waiters.popleft()
            if future.done():  # the get() was cancelled
                continue
            if not consumer._has_room():
                skipped.append((consumer, future))  # keeps its place in line
                continue
            future.set_result(consumer._take(queue.ready.popleft()))
        skipped.extend(queue.waiters)
        queue.waiters = skipped

    def _requeue(self, queue: _Queue, messages: list[_Message]) -> None:
        """Put *messages* back at the head of *queue*, in their order, flagged as redelivered."""
        for message in reversed(messages):
            message.redelivered = True
            queue.ready.appendleft(message)
            self._emit(
                "requeued",
                {"queue": queue.name, "message_id": message.message_id, "delivery_count": message.deliveries},
            )
        self._dispatch(queue)

    def _watch_expiry(self, queue: _Queue) -> None:
        if queue.expiry is None or queue.expiry.done():
            queue.expiry = asyncio.get_running_loop().create_task(
                self._expire(queue), name=f"tomodachi.memory.amqp.ttl:{queue.name}"
            )

    async def _expire(self, queue: _Queue) -> None:
        """Dead-letter the messages of a TTL queue as their time comes (oldest first, as they
        all have the same TTL); ends when the queue is empty."""
        clock = self.clock
        while queue.ready:
            head = queue.ready[0]
            if head.expires_at is not None:
                wait = head.expires_at - clock.monotonic()
                if wait > 0:
                    await clock.sleep(wait)
                    continue
            queue.ready.popleft()
            self._dead_letter(queue, head, reason="expired")

    def _dead_letter(self, queue: _Queue, message: _Message, *, reason: str = "rejected") -> None:
        exchange = queue.dead_letter_exchange
        if exchange is None or exchange not in self._exchanges:
            return  # like RabbitMQ: no (existing) dead-letter exchange means the message is dropped
        routing_key = queue.dead_letter_routing_key or message.routing_key
        headers = {
            **message.headers,
            "x-death": _add_death(message.headers.get("x-death"), queue.name, reason, message),
            "x-death-reason": reason,
            "x-original-queue": queue.name,
            "x-original-exchange": message.exchange,
            "x-original-routing-key": message.routing_key,
            "x-delivery-count": message.deliveries,
        }
        self._emit(
            "dead_lettered",
            {
                "queue": queue.name,
                "exchange": exchange,
                "message_id": message.message_id,
                "delivery_count": message.deliveries,
                "reason": reason,
            },
        )
        self.publish(exchange, routing_key, message.body, message_id=message.message_id, headers=headers)

    def _new_tag(self) -> int:
        self._next_tag += 1
        return self._next_tag

    def _emit(self, event: str, details: dict[str, Any]) -> None:
        for callback in self.on_event:
            callback(event, details)


class QueueConsumer:
    """A consumer of one queue (see :meth:`AmqpBroker.consume`)."""

    def __init__(self, broker: AmqpBroker, queue: _Queue, prefetch: int) -> None:
        self._broker = broker
        self._queue = queue
        self._prefetch = prefetch
        self._unacked: dict[int, _Message] = {}  # by delivery tag, in delivery order
        self._cancelled = False

    @property
    def unacked(self) -> int:
        """Deliveries to this consumer not yet acknowledged."""
        return len(self._unacked)

    @property
    def cancelled(self) -> bool:
        """Whether the consumer was cancelled (or its queue deleted)."""
        return self._cancelled

    async def get(self) -> AmqpDelivery:
        """The next message, once one is ready and this consumer is under its prefetch limit.

        Raises :class:`ConsumerCancelled` if the consumer is or gets cancelled.
        """
        if self._cancelled:
            raise ConsumerCancelled(self._queue.name)
        queue = self._queue
        future: asyncio.Future[tuple[int, _Message]] = asyncio.get_running_loop().create_future()
        queue.waiters.append((self, future))
        self._broker._dispatch(queue)
        try:
            tag, message = await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                # The message was handed over just as the caller gave up: undo the hand-over
                # rather than leave it unacked with nobody holding its delivery tag.
                tag, message = future.result()
                del self._unacked[tag]
                queue.unacked -= 1
                message.deliveries -= 1
                queue.ready.appendleft(message)
                self._broker._dispatch(queue)
            else:
                future.cancel()  # _dispatch drops cancelled waiters lazily
            raise
        return AmqpDelivery(
            body=message.body,
            exchange=message.exchange,
            routing_key=message.routing_key,
            message_id=message.message_id,
            headers=dict(message.headers),
            delivery_tag=tag,
            redelivered=message.redelivered,
            delivery_count=message.deliveries,
            queue=queue.name,
        )

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge a delivery: the message is gone for good."""
        self._settle(delivery_tag)

    def nack(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery: back to the head of the queue, or dead-lettered / dropped."""
        message = self._settle(delivery_tag)
        if requeue:
            self._broker._requeue(self._queue, [message])
        else:
            self._broker._dead_letter(self._queue, message)

    def cancel(self) -> None:
        """Stop consuming; unacked messages go back to the head of the queue, in order."""
        self._close(requeue=True)

    # -- internals -----------------------------------------------------------------------
    def _has_room(self) -> bool:
        return self._prefetch == 0 or len(self._unacked) < self._prefetch

    def _take(self, message: _Message) -> tuple[int, _Message]:
        tag = self._broker._new_tag()
        message.deliveries += 1
        self._unacked[tag] = message
        self._queue.unacked += 1
        return tag, message

    def _settle(self, delivery_tag: int) -> _Message:
        message = self._unacked.pop(delivery_tag, None)
        if message is None:
            raise ValueError(f"unknown delivery tag {delivery_tag}")
        self._queue.unacked -= 1
        # A slot is free now: a get() of this consumer may be waiting only for that.
        self._broker._dispatch(self._queue)
        return message

    def _close(self, *, requeue: bool) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        queue = self._queue
        if self in queue.consumers:
            queue.consumers.remove(self)
        mine = [waiter for waiter in queue.waiters if waiter[0] is self]
        queue.waiters = deque(waiter for waiter in queue.waiters if waiter[0] is not self)
        for _, future in mine:
            if not future.done():
                future.set_exception(ConsumerCancelled(queue.name))
        messages = list(self._unacked.values())
        self._unacked.clear()
        queue.unacked -= len(messages)
        if requeue and messages:
            self._broker._requeue(queue, messages)


def _add_death(deaths: Any, queue: str, reason: str, message: _Message) -> list[dict[str, Any]]:
    """RabbitMQ's ``x-death`` header after one more dead-lettering: one entry per (queue, reason),
    most recent first, with a count."""
    entries = [dict(entry) for entry in deaths if isinstance(entry, dict)] if isinstance(deaths, list) else []
    for index, entry in enumerate(entries):
        if entry.get("queue") == queue and entry.get("reason") == reason:
            entry["count"] = int(entry.get("count", 0)) + 1
            entries.insert(0, entries.pop(index))
            return entries
    entry = {
        "queue": queue,
        "reason": reason,
        "count": 1,
        "exchange": message.exchange,
        "routing-keys": [message.routing_key],
    }
    return [entry, *entries]
