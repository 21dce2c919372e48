"""The consumers of one service's robust channel, registered on its aiormq channel.

aio-pika's own consumer wraps every delivery in an ``IncomingMessage`` (fourteen properties
decoded, each set through a guarded ``__setattr__``) and runs the callback in a task of its own:
together about a fifth of the client CPU a delivery costs. The transport needs neither: it reads
five properties and runs the handler in a task it owns. So the consumers are registered with
``basic_consume`` on the robust channel's current aiormq channel
(``AbstractRobustChannel.get_underlay_channel``), and this class does for them what aio-pika's
robust queue does for its own:

* after the robust channel reopened (a reconnection, or a channel closed by a broker error), when
  aio-pika has declared the queues and bindings again, :meth:`restart` consumes them again;
* a consumer the broker cancels (its queue was deleted, ...) makes the channel reopen, which
  declares the queue again and restarts every consumer (aio-pika requests a reconnection then);
* :meth:`stop` cancels them; nothing restarts them afterwards.

Deliveries come to a callback in aiormq's receive task for the channel, which the channel's
closing cancels: the callback only hands the message over (see ``RabbitMQBackend.consume``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from aio_pika.abc import AbstractRobustChannel
from aiormq.abc import AbstractChannel, DeliveredMessage

from tomodachi.logging import Logger
from tomodachi.transport.amqp.connection import CLOSE_TIMEOUT

__all__ = ["ChannelConsumers", "ConsumerCallback"]

ConsumerCallback = Callable[[DeliveredMessage], Coroutine[Any, Any, None]]


class ChannelConsumers:
    """The consumers wanted on one robust channel, and where they are registered now."""

    def __init__(self, log: Logger) -> None:
        self._log = log
        #: (queue, callback): what is consumed again after the channel reopened.
        self._wanted: list[tuple[str, ConsumerCallback]] = []
        #: (aiormq channel, consumer tag) of the registrations on the current channel.
        self._active: list[tuple[AbstractChannel, str]] = []
        self._reopening: set[asyncio.Task[None]] = set()

    async def add(self, channel: AbstractRobustChannel, queue: str, callback: ConsumerCallback) -> None:
        """Consume *queue* with *callback* (manual acknowledgement), now and after every reopening."""
        self._wanted.append((queue, callback))
        await self._start(await channel.get_underlay_channel(), queue, callback)

    async def restart(self, channel: AbstractRobustChannel) -> None:
        """Consume again on the reopened *channel* (its queues are declared again by then)."""
        if not self._wanted:
            return
        underlay = await channel.get_underlay_channel()
        self._active.clear()  # registered on the channel that closed: gone with it
        for queue, callback in list(self._wanted):
            await self._start(underlay, queue, callback)

    async def _start(self, underlay: AbstractChannel, queue: str, callback: ConsumerCallback) -> None:
        underlay.on_consumer_cancel_callbacks.add(self._cancelled_by_broker)  # a set: once per channel
        ok = await underlay.basic_consume(queue, callback, no_ack=False)
        if ok.consumer_tag is not None:
            self._active.append((underlay, ok.consumer_tag))

    def _cancelled_by_broker(self, frame: Any) -> None:
        """A ``basic.cancel`` from the broker: if it is one of ours, reopen the channel."""
        for underlay, tag in self._active:
            if tag == frame.consumer_tag and not underlay.is_closed:
                self._log.warning("the broker cancelled a consumer: reopening the channel", consumer_tag=tag)
                # Not awaited here: this runs in the channel's own reader, which the close needs.
                task = asyncio.ensure_future(_close_quietly(underlay))
                self._reopening.add(task)
                task.add_done_callback(self._reopening.discard)
                return

    async def stop(self, *, cancel: bool = True) -> None:
        """Cancel every consumer at the broker when *cancel* (errors are logged at debug); none is
        restarted afterwards."""
        self._wanted.clear()
        active, self._active = self._active, []
        live = [(underlay, tag) for underlay, tag in active if not underlay.is_closed]
        if not live or not cancel:
            return
        results = await asyncio.gather(
            *(asyncio.wait_for(underlay.basic_cancel(tag), CLOSE_TIMEOUT) for underlay, tag in live),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                self._log.debug("could not cancel a consumer", error=repr(result))


async def _close_quietly(underlay: AbstractChannel) -> None:
    try:
        await underlay.close()
    except Exception:  # closing a channel the broker is done with: nothing to do
        pass
