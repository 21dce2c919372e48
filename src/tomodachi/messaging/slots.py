"""Bounded concurrency for a message consumer that receives in batches (SQS-style)."""

from __future__ import annotations

import asyncio

__all__ = ["Slots"]


class Slots:
    """The free handler slots of one consumer.

    A receive asks for as many messages as there are free slots (:meth:`wait_free`, then
    :attr:`free`), takes one slot per message received, and each message gives its slot back
    when it is settled. So at most *size* messages are in flight, and a slow message never holds
    back the next receive.
    """

    __slots__ = ("_freed", "_has_free", "free", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._has_free = asyncio.Event()
        self._has_free.set()
        self._freed = asyncio.Event()

    async def wait_free(self) -> None:
        """Return once at least one slot is free."""
        await self._has_free.wait()

    async def gather(self, seconds: float) -> None:
        """With some slots still busy, wait up to *seconds* for more to free up.

        Fast handlers free their slots one by one; receiving at once would ask for one message
        at a time. Never waits for all: the slowest message does not hold back the receive.
        """
        if self.free >= self.size:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.free < self.size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._freed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._freed.wait()
            except TimeoutError:
                return

    def take(self, count: int = 1) -> None:
        self.free -= count
        if self.free <= 0:
            self._has_free.clear()

    def give(self, count: int = 1) -> None:
        self.free += count
        self._has_free.set()
        self._freed.set()
