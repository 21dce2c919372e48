"""``pg_enqueue``: add a job, encoded with the service's envelope."""

from __future__ import annotations

from typing import Any

import tomodachi
from tomodachi.messaging.envelopes import build_payload, resolve_envelope
from tomodachi.messaging.observe import Published, observers_of
from tomodachi.options import DEFAULT

from .settings import settings_of
from .store import JobStore
from .transport import PgQueueTransport, store_for

__all__ = ["pg_enqueue"]


async def pg_enqueue(
    service: Any,
    data: Any,
    queue: str,
    *,
    delay: float = 0.0,
    message_envelope: Any = DEFAULT,
    **kwargs: Any,
) -> int:
    """Enqueue *data* on *queue*, runnable after *delay* seconds; returns the job id.

    *data* is encoded like a published message: with *message_envelope*, by default the
    service's ``message_envelope`` (``None``: *data* is sent as is and must be ``str``). Other
    keyword arguments go to the envelope's ``build_message``.

    The job is reported to the run's message observers (kind ``"pg_queue"``, the job id as
    ``message_id``), so ``tomodachi.testing``'s ``app.published`` lists it.
    """
    envelope = resolve_envelope(service, message_envelope)
    payload = await build_payload(service, envelope, queue, data, **kwargs)
    job_id = await _store_of(service).enqueue(queue, payload, delay=delay)
    observers = observers_of(tomodachi.runtime_of(service))
    if observers.published:  # the one check while nobody listens
        name = str(getattr(service, "name", None) or type(service).__name__)
        observers.report_published(Published("pg_queue", name, queue, payload, str(job_id), data))
    return job_id


def _store_of(service: Any) -> JobStore:
    """The store of the service's transport, else one per run for a service that only enqueues."""
    runtime = tomodachi.runtime_of(service)
    transport = runtime.transport(service, PgQueueTransport)
    if transport is not None and transport.store is not None:
        return transport.store
    settings = settings_of(service)
    key = ("pgqueue.producer", runtime.message_broker, settings.broker, settings.dsn, settings.table)
    return runtime.resource(key, lambda: store_for(service, runtime))
