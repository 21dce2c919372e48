"""``redis_enqueue``: add a message to a queue, encoded with the service's envelope."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from tomodachi.clock import get_clock
from tomodachi.errors import TomodachiError
from tomodachi.messaging.envelopes import DEFAULT, build_payload, resolve_envelope
from tomodachi.messaging.observe import Published, observers_of
from tomodachi.runtime import runtime_of

from .backend import BackendUnavailable, QueueBackend
from .options import settings_of
from .transport import RedisQueueTransport, backend_for

__all__ = ["RedisEnqueueError", "redis_enqueue"]


class RedisEnqueueError(TomodachiError):
    """A message could not be enqueued: Redis stayed unreachable for ``redis.enqueue_timeout``."""


async def redis_enqueue(
    service: Any,
    data: Any,
    queue: str,
    *,
    delay: float | None = None,
    eta: datetime | None = None,
    message_envelope: Any = DEFAULT,
    **kwargs: Any,
) -> str:
    """Enqueue *data* on *queue*; returns the message id (the handler's ``message_id``).

    *data* is encoded like a published message: with *message_envelope*, by default the service's
    ``message_envelope`` (``None``: *data* is sent as is and must be ``str``). Other keyword
    arguments go to the envelope's ``build_message``. *delay* (seconds) or *eta* (an aware
    ``datetime``) hold the message back; Redis keeps it meanwhile (a sorted set), not this
    process. While Redis is unreachable the call keeps trying for ``redis.enqueue_timeout``
    seconds, then raises :class:`RedisEnqueueError`.
    """
    if delay is not None and eta is not None:
        raise TypeError("redis_enqueue: give delay= or eta=, not both")
    runtime = runtime_of(service)
    seconds = float(delay or 0.0)
    if eta is not None:
        if eta.tzinfo is None:
            raise TypeError("redis_enqueue: eta must be an aware datetime (tzinfo=UTC)")
        seconds = (eta - get_clock(runtime).now()).total_seconds()
    envelope = resolve_envelope(service, message_envelope)
    payload = await build_payload(service, envelope, queue, data, **kwargs)
    settings = settings_of(service)
    backend = _backend_of(service, runtime)
    message_id = uuid.uuid4().hex
    stream = f"{settings.key_prefix}{{{queue}}}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(settings.enqueue_timeout)
    wait = 0.05
    while True:
        try:
            await backend.enqueue(
                stream, payload, message_id=message_id, delay=seconds, maxlen=settings.maxlen
            )
            break
        except BackendUnavailable as exc:
            if loop.time() + wait > deadline:
                raise RedisEnqueueError(
                    f"could not enqueue on {queue!r}: Redis unreachable for "
                    f"{settings.enqueue_timeout} s ({exc})"
                ) from None
            await asyncio.sleep(wait)
            wait = min(wait * 2, 1.0)
    observers = observers_of(runtime)
    if observers.published:
        name = str(getattr(service, "name", "") or "")
        observers.report_published(Published("redis", name, queue, payload, message_id, data))
    return message_id


def _backend_of(service: Any, runtime: Any) -> QueueBackend:
    """The backend of the service's transport, else one per service for a service that only enqueues."""
    transport = runtime.transport(service, RedisQueueTransport)
    if transport is not None and transport.backend is not None:
        backend: QueueBackend = transport.backend
        return backend
    found: QueueBackend = runtime.resource(
        ("tomodachi.redis.producer", id(service)), lambda: backend_for(service, runtime)
    )
    return found
