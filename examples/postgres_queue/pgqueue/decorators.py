"""``@pg_queue``: declare a handler for the jobs of a queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tomodachi.options import DEFAULT

from .declaration import PgQueueSubscription
from .transport import PgQueueTransport

__all__ = ["pg_queue"]

F = TypeVar("F", bound=Callable[..., Any])


def pg_queue(
    queue: str,
    *,
    max_attempts: int | None = None,
    callback_kwargs: Sequence[str] | None = None,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Handle the jobs enqueued on *queue* (each job by one handler of one service instance).

    - *max_attempts*: how many times a job is tried before it is dead-lettered when the handler
      keeps raising ``RetryMessage`` (default: the ``pg_queue.max_attempts`` option).
    - *message_envelope*: default the service's ``message_envelope``; ``None`` for raw payloads.
      Other keyword arguments go to the envelope (``proto_class=...``).

    The handler may ask for ``queue``, ``job_id`` and ``attempt`` (1 on the first try) keywords.
    """
    subscription = PgQueueSubscription(
        queue=queue,
        max_attempts=max_attempts,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        callback_kwargs=tuple(callback_kwargs) if callback_kwargs is not None else None,
        envelope_kwargs=dict(kwargs),
    )
    return PgQueueTransport.decorator(subscription)
