"""``@tomodachi.aws_sns_sqs``: declare a handler for an SQS queue subscribed to SNS topics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy
from tomodachi.transport.aws_sns_sqs.declaration import SnsSqsSubscription
from tomodachi.transport.aws_sns_sqs.transport import AWSSNSSQSTransport

__all__ = ["aws_sns_sqs", "awssnssqs"]

F = TypeVar("F", bound=Callable[..., Any])


def aws_sns_sqs(
    topic: str | None = None,
    callback_kwargs: Sequence[str] | None = None,
    competing: bool | None = None,
    queue_name: str | None = None,
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    filter_policy: Any = DEFAULT,
    visibility_timeout: int | None = -1,
    dead_letter_queue_name: Any = DEFAULT,
    max_receive_count: int | None = -1,
    fifo: bool = False,
    max_number_of_consumed_messages: int | None = 10,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Handle messages published to SNS *topic* (``*``/``#`` wildcards) or sent to *queue_name*.

    - *competing*: ``True`` shares one queue between every instance; the default gives each
      instance its own queue. An explicit *queue_name* must be competing.
    - *filter_policy*: an SNS filter policy (dict or JSON); ``None`` removes filtering.
    - *visibility_timeout*, *dead_letter_queue_name* + *max_receive_count*: queue settings.
    - *fifo*: FIFO topic and queue (names end in ``.fifo``).
    - *max_number_of_consumed_messages*: messages received (and handled concurrently) per batch, 1-10.
    - *retry*: this handler's :class:`~tomodachi.RetryPolicy` (default: the service's ``retry``
      options; see ``docs/retries.md``).
    - Other keyword arguments go to the envelope (``proto_class=...``).
    """
    subscription = SnsSqsSubscription(
        topic=topic,
        competing=competing,
        queue_name=queue_name,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        filter_policy=filter_policy,
        visibility_timeout=visibility_timeout,
        dead_letter_queue_name=dead_letter_queue_name,
        max_receive_count=max_receive_count,
        fifo=fifo,
        max_number_of_consumed_messages=max_number_of_consumed_messages,
        callback_kwargs=tuple(callback_kwargs) if callback_kwargs is not None else None,
        envelope_kwargs=dict(kwargs),
        retry=retry,
    )
    return AWSSNSSQSTransport.decorator(subscription)


awssnssqs = aws_sns_sqs
