"""The declaration ``@pg_queue`` attaches to a handler: data, nothing else.

A frozen dataclass with ``message_envelope``, ``message_protocol``, ``envelope_kwargs`` and
``callback_kwargs`` satisfies ``tomodachi.messaging.pipeline.Subscription``, so the pipeline
(envelope, keyword injection, message middleware, settle outcome) is tomodachi's own. Its
optional field ``retry`` (a ``tomodachi.RetryPolicy``) is the handler's retry policy:
``handler_for_subscription`` reads it, and falls back to the service's ``retry`` options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi import RetryPolicy
from tomodachi.options import DEFAULT

__all__ = ["PgQueueSubscription"]


@dataclass(frozen=True, slots=True)
class PgQueueSubscription:
    """The arguments of one ``@pg_queue(...)`` declaration."""

    queue: str
    #: The handler's retry policy (None: the service's ``retry`` options).
    retry: RetryPolicy | None = None
    #: Kept for compatibility: overrides the policy's ``max_attempts`` (None: see the transport).
    max_attempts: int | None = None
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)
