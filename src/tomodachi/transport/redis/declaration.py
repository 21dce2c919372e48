"""The declaration ``@tomodachi.redis_queue`` attaches to a handler: one frozen dataclass.

It satisfies ``tomodachi.messaging.pipeline.Subscription`` (envelope, keyword injection,
middleware and the handler's ``retry`` policy are the pipeline's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy

__all__ = ["RedisQueueSubscription"]


@dataclass(frozen=True, slots=True)
class RedisQueueSubscription:
    """The arguments of one ``@tomodachi.redis_queue(...)`` declaration."""

    queue: str
    #: The consumer group (default: the service's name): instances of one group compete, every
    #: group gets every message.
    group: str | None = None
    #: Messages in flight for this handler (default: ``redis.concurrency``).
    concurrency: int | None = None
    retry: RetryPolicy | None = None
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)
