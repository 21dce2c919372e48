"""A record of what happened to every message on the in-memory broker, and waiting on it.

The in-memory transports add one :class:`Attempt` per delivery to a handler; the broker adds
the dead-lettering it does itself (SQS redrive). ``tomodachi.testing`` reads this to answer
"was my message handled, retried, dead-lettered?" without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Attempt", "DeliveryLog"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery of a message to a handler, and how it was settled."""

    message_ids: frozenset[str]
    """Every id of the message (AMQP message id; SNS and SQS message ids)."""
    service: str
    handler: str
    delivery: int
    """1 for the first delivery to this handler's queue."""
    result: str
    """``handled``, ``retry``, ``dead_lettered`` or ``dropped``."""
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)


class DeliveryLog:
    """Attempts in the order they happened, with waiters woken on every new one."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self._changed = asyncio.Event()

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        self._changed.set()

    def for_message(self, message_id: str) -> list[Attempt]:
        """Attempts for a message, following its ids (an SNS id leads to its SQS copies' ids)."""
        ids = {message_id}
        while True:
            found = [a for a in self.attempts if a.message_ids & ids]
            grown = ids.union(*(a.message_ids for a in found)) if found else ids
            if grown == ids:
                return found
            ids = grown

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until *predicate()* holds (checked on every new attempt) or *timeout* seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True
