"""Where each message handler's failed messages go: what start-up warnings and ``tomodachi dlq`` read.

A message transport that can dead-letter implements ``dead_letter_routes()`` (after ``setup()``,
without a connection): one :class:`DeadLetterRoute` per handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["DeadLetterRoute", "DeadLetterRoutes", "routes_of"]


@dataclass(frozen=True, slots=True)
class DeadLetterRoute:
    """One handler's queue and its dead-letter destination."""

    service: str
    handler: str
    kind: str
    """``amqp``, ``aws_sns_sqs``, or a custom transport's."""
    queue: str
    """The queue the handler consumes (where a re-drive sends messages back)."""
    dead_letter_queue: str | None
    """The queue failed messages are moved to; ``None`` when there is none (see *dead_letter_exchange*)."""
    dead_letter_exchange: str | None = None
    """AMQP: the exchange failed messages are routed to (``amqp.dead_letter_exchange``), whose
    queues the user binds; ``None`` otherwise."""

    @property
    def drops(self) -> bool:
        """Failed messages are dropped (logged): there is no dead-letter destination."""
        return self.dead_letter_queue is None and self.dead_letter_exchange is None


class DeadLetterRoutes(Protocol):
    def dead_letter_routes(self) -> list[DeadLetterRoute]: ...


def routes_of(transport: Any) -> list[DeadLetterRoute]:
    """The routes of *transport*; ``[]`` for one that does not dead-letter."""
    method = getattr(transport, "dead_letter_routes", None)
    return list(method()) if callable(method) else []
