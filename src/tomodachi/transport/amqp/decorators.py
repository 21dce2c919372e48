"""``@tomodachi.amqp``: declare a handler for messages routed to a topic exchange."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.retry import RetryPolicy
from tomodachi.transport.amqp.declaration import AmqpSubscription
from tomodachi.transport.amqp.transport import AmqpTransport

__all__ = ["amqp"]

F = TypeVar("F", bound=Callable[..., Any])


def amqp(
    routing_key: str,
    callback_kwargs: Sequence[str] | None = None,
    exchange_name: str = "",
    competing: bool | None = None,
    queue_name: str | None = None,
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Handle messages published to *routing_key* (``*`` and ``#`` wildcards allowed).

    - *exchange_name*: default ``options.amqp.exchange_name`` (``amq.topic``).
    - *competing*: ``True`` shares one queue between every instance of the service (each
      message is handled once); the default gives each instance its own queue. An explicit
      *queue_name* implies competing.
    - *message_envelope*: default the service's ``message_envelope``; ``None`` for raw payloads.
      Other keyword arguments go to the envelope (``proto_class=...``).
    - *retry*: this handler's :class:`~tomodachi.RetryPolicy` (default: the service's ``retry``
      options; see ``docs/retries.md``).
    """
    subscription = AmqpSubscription(
        routing_key=routing_key,
        exchange_name=exchange_name or "",
        competing=competing,
        queue_name=queue_name,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        callback_kwargs=tuple(callback_kwargs) if callback_kwargs is not None else None,
        envelope_kwargs=dict(kwargs),
        retry=retry,
    )
    return AmqpTransport.decorator(subscription)
