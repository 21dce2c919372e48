"""The broker behind ``@tomodachi.aws_sns_sqs``: a small client protocol; the one place a backend is chosen.

The consumer (:mod:`.consumer`), the transport (:mod:`.transport`) and the publish functions
(:mod:`.publish`) talk to SNS+SQS only through a :class:`SnsSqsClient`. Two classes implement
it: :class:`~tomodachi.transport.aws_sns_sqs.aws_client.AwsSnsSqsClient` (aiobotocore) and
:class:`~tomodachi.transport.memory.sns_sqs_client.MemorySnsSqsClient` (the in-memory broker
model). A client only moves messages and topology; receive loops, concurrency, settling,
retries, visibility extension and draining live in the consumer, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tomodachi.messaging.backend import backend_class, register_message_family

if TYPE_CHECKING:
    from tomodachi.clock import Clock
    from tomodachi.messaging.pipeline import Outcome
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service
    from tomodachi.transport.aws_sns_sqs.message import ReceivedMessage
    from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = ["SNS_SQS_FAMILY", "QueueBinding", "SnsSqsClient", "client_class", "client_for"]

#: ``aws_sns_sqs.broker = "memory"`` (or ``--message-broker memory``) runs SNS+SQS in memory.
SNS_SQS_FAMILY = register_message_family("aws_sns_sqs", broker_option="aws_sns_sqs.broker")


@dataclass(slots=True)
class QueueBinding:
    """One handler's queue as its client set it up (or verified it)."""

    name: str
    url: str
    visibility_timeout: float
    """The queue's visibility timeout in seconds (the handler's, or the queue's own setting)."""
    dead_letter_url: str | None
    """The handler's dead-letter queue, ``None`` when it has none."""
    topic_arns: list[str] = field(default_factory=list)
    dead_letter_name: str | None = None
    """The name of a dead-letter queue found in the queue's own redrive policy (a handler that
    declares none leaves that policy as it is); ``None`` otherwise."""
    redrive_max_receive_count: int | None = None
    """The ``maxReceiveCount`` of that redrive policy."""


class SnsSqsClient(Protocol):
    """What the SNS+SQS consumer, transport and publish functions need from a broker.

    Calls used by the consumer make one attempt and raise the backend's own errors, which the
    client classifies (:meth:`is_transient`, :meth:`is_missing_queue`, :meth:`describe_error`):
    the consumer owns retries and their logging. :meth:`publish`, :meth:`queue_url` and
    :meth:`send_message` serve ``aws_sns_sqs_publish`` / ``sqs_send_message`` and retry as the
    backend needs, raising one clear ``AWSSNSSQSException`` at the end.
    """

    #: The clock visibility timeouts and long polls run on (the run's clock in memory).
    clock: Clock

    def __init__(self, service: Any, runtime: Runtime) -> None: ...

    # -- topology (start-up) -------------------------------------------------------------------
    async def set_up(self, consumer: SqsConsumer) -> QueueBinding | None:
        """Create (or, with ``manage_topology`` off, verify) *consumer*'s topology; ``None`` if missing."""
        ...

    def raise_if_incomplete(self) -> None:
        """Fail start-up with one line naming what :meth:`set_up` found missing (if anything)."""
        ...

    # -- consuming ---------------------------------------------------------------------------
    async def receive_messages(
        self, queue_url: str, max_messages: int, wait_seconds: float
    ) -> list[ReceivedMessage]:
        """One long poll: up to *max_messages* (1-10), or ``[]`` after *wait_seconds*."""
        ...

    async def delete_message(self, queue_url: str, receipt_handle: str) -> None: ...

    async def change_visibility(self, queue_url: str, receipts: Sequence[str], visibility: float) -> int:
        """Make up to 10 messages visible again in *visibility* seconds (0-43200; AWS rounds a
        fraction up to whole seconds); returns how many failed."""
        ...

    async def dead_letter(self, queue_url: str, message: ReceivedMessage, *, fifo: bool) -> None:
        """Send a copy of *message* (body and attributes) to the dead-letter queue *queue_url*."""
        ...

    def is_transient(self, exc: BaseException) -> bool: ...

    def is_missing_queue(self, exc: BaseException) -> bool: ...

    def describe_error(self, exc: BaseException) -> str: ...

    def settled(
        self,
        consumer: SqsConsumer,
        message: ReceivedMessage,
        sns_message_id: str,
        result: str,
        outcome: Outcome,
    ) -> None:
        """Observe a settled delivery (the in-memory broker records it in its delivery log).

        *result* is ``"handled"``, ``"retry"``, ``"dead_lettered"`` or ``"dropped"``.
        """
        ...

    # -- publishing and sending ----------------------------------------------------------------
    async def publish(
        self,
        topic_name: str,
        payload: str,
        *,
        message_attributes: Mapping[str, Any],
        group_id: str | None,
        deduplication_id: str | None,
        topic_attributes: Any,
        overwrite_topic_attributes: bool,
    ) -> str:
        """Publish to the (encoded, prefixed) SNS topic; returns the SNS MessageId."""
        ...

    async def queue_url(self, name_url_or_arn: str) -> str:
        """The URL of a queue given by (prefixed) name, URL or ARN; ``QueueDoesNotExistError`` if none."""
        ...

    async def send_message(
        self,
        queue_url: str,
        body: str,
        *,
        message_attributes: Mapping[str, Any],
        delay_seconds: int | None,
        group_id: str | None,
        deduplication_id: str | None,
    ) -> str:
        """``SendMessage``; returns the SQS MessageId."""
        ...


def client_class(service: Service, runtime: Runtime) -> type[SnsSqsClient]:
    """The client class serving *service*: the in-memory broker or AWS (the only backend choice).

    A missing ``aws`` extra is a ``ConfigurationError`` saying what to install.
    """
    cls: type[SnsSqsClient] = backend_class(
        service,
        runtime,
        SNS_SQS_FAMILY,
        memory="tomodachi.transport.memory.sns_sqs_client:MemorySnsSqsClient",
        real="tomodachi.transport.aws_sns_sqs.aws_client:AwsSnsSqsClient",
        extra="aws",
    )
    return cls


def client_for(service: Any, runtime: Runtime) -> SnsSqsClient:
    """A client for *service* in *runtime* (cheap: the connections behind it are shared per run)."""
    return client_class(service, runtime)(service, runtime)
