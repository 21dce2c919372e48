"""``@pg_queue``: declare a handler for the jobs of a queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tomodachi import RetryPolicy
from tomodachi.options import DEFAULT

from .declaration import PgQueueSubscription
from .transport import PgQueueTransport

__all__ = ["pg_queue"]

F = TypeVar("F", bound=Callable[..., Any])


def pg_queue(
    queue: str,
    *,
    retry: RetryPolicy | None = None,
    max_attempts: int | None = None,
    callback_kwargs: Sequence[str] | None = None,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Handle the jobs enqueued on *queue* (each job by one handler of one service instance).

    - *retry*: the handler's ``tomodachi.RetryPolicy`` (how often and after how long a failed
      job runs again, and what happens after its last attempt); default the service's ``retry``
      options. See docs/retries.md.
    - *max_attempts*: kept for compatibility; replaces the ``max_attempts`` of the service's
      policy (give either this or *retry*, not both).
    - *message_envelope*: default the service's ``message_envelope``; ``None`` for raw payloads.
      Other keyword arguments go to the envelope (``proto_class=...``).

    The handler may ask for ``queue``, ``job_id`` and ``attempt`` (1 on the first try) keywords.
    """
    subscription = PgQueueSubscription(
        queue=queue,
        retry=retry,
        max_attempts=max_attempts,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        callback_kwargs=tuple(callback_kwargs) if callback_kwargs is not None else None,
        envelope_kwargs=dict(kwargs),
    )
    return PgQueueTransport.decorator(subscription)
