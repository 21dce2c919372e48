"""``redis_enqueue``: add a message to a queue, encoded with the service's envelope."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tomodachi.clock import get_clock
from tomodachi.errors import TomodachiError
from tomodachi.messaging.envelopes import DEFAULT, build_payload, resolve_envelope
from tomodachi.messaging.observe import Observers, Published, observers_of
from tomodachi.observability import publishing
from tomodachi.runtime import runtime_of

from .backend import BackendUnavailable, QueueBackend
from .options import RedisOptions, settings_of
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
    producer = _producer_of(service, runtime)
    settings, backend = producer.settings, producer.backend
    message_id = uuid.uuid4().hex
    stream = f"{settings.key_prefix}{{{queue}}}"

    async def send(headers: dict[str, str]) -> None:
        # *headers*: the trace context (``traceparent``, ...) when instrumented, else ``{}``.
        try:  # the hot path: Redis answers
            await backend.enqueue(
                stream, payload, message_id=message_id, delay=seconds, maxlen=settings.maxlen, headers=headers
            )
        except BackendUnavailable:
            await _keep_trying(backend, settings, queue, stream, payload, message_id, seconds, headers)

    await publishing(send, "redis", service, queue)
    observers = producer.observers
    if observers.published:
        name = str(getattr(service, "name", "") or "")
        observers.report_published(Published("redis", name, queue, payload, message_id, data))
    return message_id


async def _keep_trying(
    backend: QueueBackend,
    settings: RedisOptions,
    queue: str,
    stream: str,
    payload: str,
    message_id: str,
    seconds: float,
    headers: Mapping[str, str],
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(settings.enqueue_timeout)
    wait = 0.05
    while True:
        await asyncio.sleep(wait)
        wait = min(wait * 2, 1.0)
        try:
            await backend.enqueue(
                stream, payload, message_id=message_id, delay=seconds, maxlen=settings.maxlen, headers=headers
            )
            return
        except BackendUnavailable as exc:
            if loop.time() + wait > deadline:
                raise RedisEnqueueError(
                    f"could not enqueue on {queue!r}: Redis unreachable for "
                    f"{settings.enqueue_timeout} s ({exc})"
                ) from None


@dataclass(frozen=True, slots=True)
class _Producer:
    settings: RedisOptions
    backend: QueueBackend
    observers: Observers


def _producer_of(service: Any, runtime: Any) -> _Producer:
    """What an enqueue of *service* needs, worked out once per service and run."""
    producer: _Producer = runtime.resource(
        ("tomodachi.redis.producer", id(service)),
        lambda: _Producer(settings_of(service), _backend_of(service, runtime), observers_of(runtime)),
    )
    return producer


def _backend_of(service: Any, runtime: Any) -> QueueBackend:
    """The backend of the service's transport, else its own (a service that only enqueues)."""
    transport = runtime.transport(service, RedisQueueTransport)
    if transport is not None and transport.backend is not None:
        backend: QueueBackend = transport.backend
        return backend
    return backend_for(service, runtime)
