"""What the dead-letter tooling works with: a handler's route and options, queue counts, messages, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.errors import TomodachiError
from tomodachi.messaging.dead_letters import DeadLetterRoute

if TYPE_CHECKING:
    from tomodachi.options import Options

__all__ = [
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterTarget",
    "DeadLetterUsageError",
    "MissingQueueError",
    "QueueStatus",
    "RedriveError",
]

#: Kinds of route the tooling can inspect (``DeadLetterRoute.kind``).
SUPPORTED_KINDS = ("amqp", "aws_sns_sqs")


class DeadLetterError(TomodachiError):
    """The broker could not be reached or refused an operation; the message is one line."""


class DeadLetterUsageError(DeadLetterError, ValueError):
    """The request cannot be served as asked (unknown handler, a route without a dead-letter queue,
    the in-memory broker); the message is one line saying what to do."""


class MissingQueueError(DeadLetterError):
    """A queue the request needs does not exist (the dead-letter queue; for a re-drive, the handler's)."""


class RedriveError(DeadLetterError):
    """A re-drive stopped at its first failure; :attr:`moved` messages had been moved before it.

    The message that failed is still in the dead-letter queue (or, when only its removal from the
    dead-letter queue failed, in both queues: never in neither).
    """

    def __init__(self, message: str, moved: int) -> None:
        super().__init__(message)
        self.moved = moved


@dataclass(frozen=True, slots=True)
class DeadLetterTarget:
    """One handler's dead-letter route together with the options of its service.

    The options say how to reach the broker, exactly as the service's transport reads them
    (``amqp.*``; ``aws_sns_sqs.*`` and ``aws_endpoint_urls.*``). Build one from a route of your own
    with ``DeadLetterTarget(route, service.options)``, or get them from :func:`tomodachi.dlq.targets`.
    """

    route: DeadLetterRoute
    options: Options = field(repr=False, compare=False)
    """The service's :class:`tomodachi.Options` (never shown: it may hold credentials)."""
    hint: str = field(default="", compare=False)
    """Added to the note of a queue that is not found (set by :func:`tomodachi.dlq.targets` for a
    service without a fixed ``uuid``, whose non-competing queues are named anew in every process)."""

    @property
    def name(self) -> str:
        """``service.handler``, as the CLI names a handler."""
        return f"{self.route.service}.{self.route.handler}"

    @property
    def broker(self) -> str:
        """``rabbitmq``, ``aws``, ``memory`` or the route's own kind for a custom transport."""
        kind = self.route.kind
        if kind == "amqp":
            return "memory" if self.options.amqp.broker == "memory" else "rabbitmq"
        if kind == "aws_sns_sqs":
            return "memory" if self.options.aws_sns_sqs.broker == "memory" else "aws"
        return kind


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """How many messages one handler's dead-letter queue holds."""

    target: DeadLetterTarget
    messages: int | None
    """Messages waiting in the dead-letter queue (SQS: approximate); ``None`` when not known."""
    in_flight: int = 0
    """Received but not yet settled (RabbitMQ: not counted by the broker's queue declare, 0)."""
    note: str = ""
    """Why *messages* is ``None``, or something to know (``queue not found``, ``drops failed messages``)."""
    exists: bool = True
    """False when the dead-letter queue does not exist (yet)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered message as :func:`tomodachi.dlq.peek` shows it (it stays in the queue)."""

    message_id: str | None
    size: int
    """Body size in bytes."""
    body: bytes
    """The first bytes of the body (up to the ``body_bytes`` asked for)."""
    headers: dict[str, Any] = field(default_factory=dict)
    """AMQP: the message headers. SQS: the message attributes (``{name: value}``)."""
    content_type: str | None = None
    reason: str | None = None
    """Why the broker dead-lettered it, where the broker says (AMQP ``x-death``: ``rejected from queue
    'q' (2 times)``); ``None`` when it does not (SQS)."""
    receive_count: int | None = None
    """SQS: ``ApproximateReceiveCount`` (peeking adds one); AMQP: ``None``."""
    group_id: str | None = None
    """SQS FIFO: the message group."""
