"""The declaration ``@tomodachi.aws_sns_sqs`` attaches to a handler: one frozen dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy

__all__ = ["SnsSqsSubscription"]


@dataclass(frozen=True, slots=True)
class SnsSqsSubscription:
    """The arguments of one ``@tomodachi.aws_sns_sqs`` declaration (defaults as the original)."""

    topic: str | None = None
    competing: bool | None = None
    queue_name: str | None = None
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    filter_policy: Any = DEFAULT  # DEFAULT: leave the subscription as it is; None: no filter
    visibility_timeout: int | None = -1  # -1: leave the queue as it is
    dead_letter_queue_name: Any = DEFAULT  # DEFAULT: leave; None: remove the redrive policy
    max_receive_count: int | None = -1
    fifo: bool = False
    max_number_of_consumed_messages: int | None = 10
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = None  # None: the service's ``retry`` options
