"""The declaration ``@pg_queue`` attaches to a handler: data, nothing else.

A frozen dataclass with ``message_envelope``, ``message_protocol``, ``envelope_kwargs`` and
``callback_kwargs`` satisfies ``tomodachi.messaging.pipeline.Subscription``, so the pipeline
(envelope, keyword injection, message middleware, settle outcome) is tomodachi's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi.options import DEFAULT

__all__ = ["PgQueueSubscription"]


@dataclass(frozen=True, slots=True)
class PgQueueSubscription:
    """The arguments of one ``@pg_queue(...)`` declaration."""

    queue: str
    #: Attempts before a job that keeps asking for a retry is dead-lettered (None: the option).
    max_attempts: int | None = None
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)
