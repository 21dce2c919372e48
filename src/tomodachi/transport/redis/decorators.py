"""``@tomodachi.redis_queue``: declare a handler for the messages of a Redis stream queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy

from .declaration import RedisQueueSubscription
from .transport import RedisQueueTransport

__all__ = ["redis_queue"]

F = TypeVar("F", bound=Callable[..., Any])


def redis_queue(
    queue: str,
    *,
    group: str | None = None,
    concurrency: int | None = None,
    retry: RetryPolicy | None = None,
    callback_kwargs: Sequence[str] | None = None,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Handle the messages enqueued on *queue* (``tomodachi.redis_enqueue``).

    - *group*: the consumer group, default the service's name: the instances of one service
      share (compete for) the messages; every group gets every message.
    - *concurrency*: messages in flight for this handler (default ``redis.concurrency``).
    - *retry*: the handler's :class:`~tomodachi.RetryPolicy` (default: the service's ``retry``
      options; see ``docs/retries.md``).
    - *message_envelope*: default the service's ``message_envelope``; ``None`` for raw payloads.
      Other keyword arguments go to the envelope (``proto_class=...``).

    The handler may ask for ``queue``, ``group``, ``message_id``, ``stream_id``, ``attempt`` (1 on
    the first delivery) and ``enqueued_at`` (an aware ``datetime``) keywords.
    """
    subscription = RedisQueueSubscription(
        queue=queue,
        group=group,
        concurrency=concurrency,
        retry=retry,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        callback_kwargs=tuple(callback_kwargs) if callback_kwargs is not None else None,
        envelope_kwargs=dict(kwargs),
    )
    return RedisQueueTransport.decorator(subscription)
