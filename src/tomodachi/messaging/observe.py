"""What the message transports of a run report: every settled delivery and every publish.

Each transport (built-in or written on the kit) reports, through the run's :class:`Observers`:

- :class:`Settled`: one delivery of a message to a handler, and how it was settled (after the
  retry policy decided), with every id the message is known by;
- :class:`Published`: a message a service published or sent (the payload as it went out).

``tomodachi.testing`` subscribes to both, so ``Delivery.outcome()`` and ``app.published`` work
the same on every broker (the in-memory one, RabbitMQ, SNS+SQS). Reporting costs one attribute
check per delivery while nobody listens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.logging import get_logger

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["Observers", "Published", "Settled", "observers_of"]


@dataclass(frozen=True, slots=True)
class Settled:
    """One delivery of a message to a handler, and how it was settled."""

    message_ids: frozenset[str]
    """Every id of the message (AMQP message id, SNS and SQS message ids, the envelope's uuid)."""
    service: str
    kind: str
    """The transport family: ``amqp``, ``aws_sns_sqs``, or a custom transport's."""
    handler: str
    attempt: int
    """1 for the first delivery to this handler."""
    result: str
    """``handled``, ``retry``, ``dead_lettered`` or ``dropped``."""
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)
    """The exception the handler raised (its traceback is not kept)."""
    delay: float | None = None
    """For a retry: the seconds before the next delivery."""


@dataclass(frozen=True, slots=True)
class Published:
    """A message a service published (to a topic / routing key) or sent (to a queue)."""

    kind: str
    """``amqp``, ``aws_sns_sqs`` (SNS publish), ``sqs`` (SQS send), or a custom transport's."""
    service: str
    destination: str
    """The topic, routing key or queue, as the caller named it (without prefixes)."""
    payload: str
    """The body as it went out (the envelope's output)."""
    message_id: str | None = None
    """The broker's id of the published message, where it returns one."""
    data: Any = None
    """The data the caller passed (before the envelope)."""


Listener = Callable[[Any], None]


class Observers:
    """The listeners of one run (``observers_of(runtime)``)."""

    __slots__ = ("published", "settled")

    def __init__(self) -> None:
        self.settled: list[Callable[[Settled], None]] = []
        self.published: list[Callable[[Published], None]] = []

    def report_settled(self, event: Settled) -> None:
        _notify(self.settled, event)

    def report_published(self, event: Published) -> None:
        _notify(self.published, event)


def observers_of(runtime: Runtime) -> Observers:
    """The run's :class:`Observers` (created on first use)."""
    return runtime.resource("tomodachi.messaging.observers", Observers)


def _notify(listeners: list[Callable[[Any], None]], event: Any) -> None:
    for listener in list(listeners):
        try:
            listener(event)
        except Exception as exc:  # a listener's bug must not change how a message settles
            get_logger("tomodachi.messaging").error(
                "error in a message observer", listener=repr(listener), exc_info=exc
            )
