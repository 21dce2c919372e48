"""The declaration ``@tomodachi.amqp`` attaches to a handler: data, nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy

__all__ = ["AmqpSubscription"]


@dataclass(frozen=True, slots=True)
class AmqpSubscription:
    """The arguments of one ``@tomodachi.amqp`` declaration."""

    routing_key: str
    exchange_name: str = ""
    competing: bool | None = None
    queue_name: str | None = None
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = None  # None: the service's ``retry`` options
