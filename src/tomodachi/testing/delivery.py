"""Awaiting what happened to a message published in a test, on any broker.

A run of ``tomodachi.testing`` keeps its own :class:`~tomodachi.transport.memory.delivery_log.DeliveryLog`
(``app.delivery_log``), fed by the run's message observers: every transport (the in-memory
broker, RabbitMQ, SNS+SQS, a custom one) reports each settled delivery there, and the in-memory
broker adds the dead-lettering its SQS redrive policy does itself. :class:`Delivery` reads it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from tomodachi.clock import ManualClock
from tomodachi.transport.memory.delivery_log import Attempt, DeliveryLog

if TYPE_CHECKING:
    from tomodachi.clock import Clock
    from tomodachi.messaging.observe import Settled

__all__ = ["Delivery", "DeliveryReport", "DeliveryTimeout", "record_redrive", "record_settled", "wait_for"]

_TERMINAL = frozenset({"handled", "dead_lettered", "dropped"})
T = TypeVar("T")


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
    """A message published in a test; await its outcome with :meth:`outcome`.

    *message_id* is the id the publish returned (AMQP: the ``message_id`` property; SNS: the
    MessageId; SQS: the MessageId). While this object is alive, the run's delivery log keeps
    every attempt of its message (the log is bounded: see ``docs/testing.md``, "Memory bounds
    of the delivery log").
    """

    def __init__(
        self, log: DeliveryLog, message_id: str, *, clock: Clock | None = None, fresh: bool = False
    ) -> None:
        self.log = log
        self.message_id = message_id
        self.clock = clock
        log.track(message_id)
        weakref.finalize(self, log.untrack, message_id)
        # fresh: a message sent again under the same id (an AMQP re-drive) - only what happens
        # from now on counts, not its earlier, already settled, deliveries.
        self._skip = len(log.for_message(message_id)) if fresh else 0

    @property
    def attempts(self) -> list[Attempt]:
        """Every delivery of this message to a handler so far, in order."""
        return self.log.for_message(self.message_id)[self._skip :]

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
                    attempt = replace(attempt, handler=owner.handler, service=owner.service, kind=owner.kind)
            result.append(attempt)
        return result

    async def outcome(self, *, handler: str | None = None, timeout: float = 5.0) -> DeliveryReport:  # noqa: ASYNC109
        """Wait until the message is settled for good (handled, dead-lettered or dropped).

        A retry waits for the redelivery. On a :class:`~tomodachi.clock.ManualClock` the clock
        is moved to the next pending wake-up (a visibility timeout, a delay) whenever nothing
        else is happening, so retries take no real time. *handler* picks one handler when a
        message fans out to several. Raises :class:`DeliveryTimeout` after *timeout* real seconds.
        """
        report = await wait_for(lambda: self._report(handler), self.log.wait_until, self.clock, timeout)
        if report is not None:
            return report
        seen = (
            ", ".join(f"{a.handler}#{a.delivery}:{a.result}" for a in self.attempts)
            or "no delivery to any handler"
        )
        raise DeliveryTimeout(f"message {self.message_id} not settled within {timeout} s ({seen})")


async def wait_for(
    check: Callable[[], T | None],
    wait_until: Callable[[Callable[[], bool], float], Awaitable[bool]],
    clock: Clock | None,
    timeout: float,  # noqa: ASYNC109 - a deadline for the test
) -> T | None:
    """Poll *check* until it returns something, waking on *wait_until*; ``None`` after *timeout*.

    On a :class:`ManualClock`, whenever nothing happened for a moment the clock moves to its next
    pending wake-up (a visibility timeout, a retry delay, a schedule), so that waiting on it
    takes no real time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        waited = await wait_until(lambda: check() is not None, min(remaining, 0.05))
        if not waited and isinstance(clock, ManualClock):
            wakeup = clock.next_wakeup()
            if wakeup is not None:
                await clock.advance_to(wakeup)


def record_settled(log: DeliveryLog) -> Callable[[Settled], None]:
    """An observer of settled deliveries that adds them to *log*."""

    def on_settled(event: Settled) -> None:
        log.add(Attempt.from_settled(event))

    return on_settled


def record_redrive(log: DeliveryLog) -> Callable[[str, dict[str, Any]], None]:
    """A listener of the in-memory SQS model's events that adds its redrive moves to *log*.

    The redrive policy moves a message to its dead-letter queue on a receive, without any
    handler seeing it: recorded so that a test waiting on the message sees ``dead_lettered``
    (credited to the handler of that queue by :class:`Delivery`, through the SQS id).
    """

    def on_event(event: str, details: dict[str, Any]) -> None:
        if event == "dead_lettered":
            log.add(
                Attempt(
                    message_ids=frozenset((str(details["message_id"]),)),
                    service="",
                    handler=f"redrive:{details['queue']}",
                    delivery=int(details["receive_count"]),
                    result="dead_lettered",
                    reason=f"moved to {details['dlq']} after {details['receive_count']} receives",
                )
            )

    return on_event
