"""Awaiting what happened to a message published in a test."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tomodachi.clock import ManualClock

if TYPE_CHECKING:
    from tomodachi.transport.memory.broker import MemoryBroker
    from tomodachi.transport.memory.delivery_log import Attempt

__all__ = ["Delivery", "DeliveryReport", "DeliveryTimeout"]

_TERMINAL = frozenset({"handled", "dead_lettered", "dropped"})


class DeliveryTimeout(AssertionError):
    """The message did not reach the expected outcome in time (a test failure, with details)."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The outcome of one message for one handler."""

    handler: str
    attempts: tuple[Attempt, ...]

    @property
    def result(self) -> str:
        """``handled``, ``dead_lettered`` or ``dropped`` (the last attempt's result)."""
        return self.attempts[-1].result

    @property
    def handled(self) -> bool:
        return self.result == "handled"

    @property
    def dead_lettered(self) -> bool:
        return self.result == "dead_lettered"

    @property
    def retries(self) -> int:
        """How many attempts asked for a retry before the last one."""
        return sum(1 for a in self.attempts if a.result == "retry")


class Delivery:
    """A message published through the in-memory broker; await its outcome with :meth:`outcome`.

    While this object is alive, the broker's delivery log keeps every attempt of its message
    (the log is bounded: see ``docs/testing.md``, "Memory bounds of the delivery log").
    """

    def __init__(self, broker: MemoryBroker, message_id: str) -> None:
        self.broker = broker
        self.message_id = message_id
        broker.log.track(message_id)
        weakref.finalize(self, broker.log.untrack, message_id)

    @property
    def attempts(self) -> list[Attempt]:
        """Every delivery of this message to a handler so far, in order."""
        return self.broker.log.for_message(self.message_id)

    def _report(self, handler: str | None) -> DeliveryReport | None:
        attempts = [a for a in self._attributed() if handler is None or a.handler == handler]
        if not attempts:
            return None
        name = attempts[-1].handler
        mine = tuple(a for a in attempts if a.handler == name)
        if mine[-1].result not in _TERMINAL:
            return None
        return DeliveryReport(name, mine)

    def _attributed(self) -> list[Attempt]:
        """Attempts, with the broker's own redrive moves credited to the handler of that queue."""
        result: list[Attempt] = []
        for attempt in self.attempts:
            if attempt.handler.startswith("redrive:"):
                owner = next((a for a in reversed(result) if a.message_ids & attempt.message_ids), None)
                if owner is not None:
                    attempt = replace(attempt, handler=owner.handler, service=owner.service)
            result.append(attempt)
        return result

    async def outcome(self, *, handler: str | None = None, timeout: float = 5.0) -> DeliveryReport:  # noqa: ASYNC109
        """Wait until the message is settled for good (handled, dead-lettered or dropped).

        A retry waits for the redelivery. On a :class:`~tomodachi.clock.ManualClock` the clock
        is moved to the next pending wake-up (a visibility timeout, a delay) whenever nothing
        else is happening, so retries take no real time. *handler* picks one handler when a
        message fans out to several. Raises :class:`DeliveryTimeout` after *timeout* real seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        clock = self.broker.clock
        while True:
            report = self._report(handler)
            if report is not None:
                return report
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waited = await self.broker.log.wait_until(
                lambda: self._report(handler) is not None, min(remaining, 0.05)
            )
            if not waited and isinstance(clock, ManualClock):
                wakeup = clock.next_wakeup()
                if wakeup is not None:
                    await clock.advance_to(wakeup)
        seen = (
            ", ".join(f"{a.handler}#{a.delivery}:{a.result}" for a in self.attempts)
            or "no delivery to any handler"
        )
        raise DeliveryTimeout(f"message {self.message_id} not settled within {timeout} s ({seen})")
