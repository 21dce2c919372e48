"""``Broadcast``: in-process fan-out from the service's code (a message handler) to subscriptions.

::

    class Orders(tomodachi.Service):
        def __init__(self) -> None:
            self.events = Broadcast()

        @tomodachi.amqp("order.created")
        async def on_order(self, data: dict) -> None:
            self.events.publish("orders", data)          # never blocks

        @tomodachi.graphql_subscription("orderCreated")
        def order_created(self) -> AsyncIterator[dict]:
            return self.events.subscribe("orders")

Each subscriber has a bounded queue (``max_queue``): one that falls that far behind is ended
with an error rather than letting memory grow (the client may subscribe again).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["Broadcast", "BroadcastOverflow", "Subscriber"]


class BroadcastOverflow(Exception):
    """A subscriber fell ``max_queue`` values behind: its stream ends with this error."""


class Subscriber(AsyncIterator[Any]):
    """One subscription to a topic of a :class:`Broadcast`: an async iterator of the published values.

    It is registered when created and unregistered by :meth:`aclose` (the GraphQL transport
    closes the stream of a subscription that ends), or by ``async with``.
    """

    __slots__ = ("_broadcast", "_error", "_queue", "_waiter", "closed", "max_queue", "topic")

    def __init__(self, broadcast: Broadcast, topic: str, max_queue: int) -> None:
        self._broadcast = broadcast
        self.topic = topic
        self.max_queue = max_queue
        self._queue: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.closed = False

    def _push(self, value: Any) -> None:
        if self.closed or self._error is not None:
            return
        if len(self._queue) >= self.max_queue:
            self._queue.clear()
            self._error = BroadcastOverflow(
                f"subscription fell behind: more than {self.max_queue} events were waiting"
            )
            self._broadcast._remove(self)
        else:
            self._queue.append(value)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Any:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._error is not None:
                error, self._error = self._error, None
                self.closed = True
                raise error
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        """Stop receiving; a waiting ``__anext__`` ends the iteration."""
        self.closed = True
        self._queue.clear()
        self._broadcast._remove(self)
        self._wake()

    async def __aenter__(self) -> Subscriber:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Broadcast:
    """Topics that fan published values out to every current subscriber (in this process)."""

    def __init__(self, *, max_queue: int = 100) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.max_queue = max_queue
        self._topics: dict[str, set[Subscriber]] = {}

    def subscribe(self, topic: str) -> Subscriber:
        """A new subscriber to *topic*, registered at once (values published from now on)."""
        subscriber = Subscriber(self, topic, self.max_queue)
        self._topics.setdefault(topic, set()).add(subscriber)
        return subscriber

    def publish(self, topic: str, value: Any) -> int:
        """Hand *value* to every subscriber of *topic*; returns how many there were. Never blocks."""
        subscribers = self._topics.get(topic)
        if not subscribers:
            return 0
        receivers = list(subscribers)
        for subscriber in receivers:
            subscriber._push(value)
        return len(receivers)

    def subscribers(self, topic: str) -> int:
        """How many subscribers *topic* has now."""
        return len(self._topics.get(topic, ()))

    def _remove(self, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(subscriber.topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[subscriber.topic]
