"""``tomodachi.amqp_publish``: publish to a topic exchange, through the service's AMQP backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

from tomodachi.messaging.backend import runtime_of
from tomodachi.messaging.envelopes import DEFAULT, build_payload, resolve_envelope
from tomodachi.messaging.observe import Published, observers_of
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.amqp.backend import backend_for
from tomodachi.transport.amqp.naming import default_exchange, encode_routing_key

__all__ = ["amqp_publish", "publish"]


async def amqp_publish(
    service: Any,
    data: Any,
    routing_key: str = "",
    exchange_name: str = "",
    wait: bool = True,
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    routing_key_prefix: Any = DEFAULT,
    **kwargs: Any,
) -> asyncio.Task[str] | None:
    """Publish *data* with *routing_key* to the service's exchange (``amqp.exchange_name``).

    The envelope (the service's ``message_envelope`` unless given) encodes *data*; without one,
    *data* must be ``str``. With ``wait=False`` the publish runs in the background and its task
    is returned. Raises :class:`~tomodachi.messaging.envelopes.PayloadError` for data the envelope
    cannot encode, and ``AmqpPublishError`` when the broker stays unreachable.
    """
    coro = publish_message(
        service,
        data,
        routing_key,
        exchange_name,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        routing_key_prefix=routing_key_prefix,
        **kwargs,
    )
    if not wait:
        return asyncio.ensure_future(coro)
    await coro
    return None


async def publish_message(
    service: Any,
    data: Any,
    routing_key: str = "",
    exchange_name: str = "",
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    routing_key_prefix: Any = DEFAULT,
    **kwargs: Any,
) -> str:
    """Publish and return the AMQP ``message_id`` property given to the message.

    The message is reported to the run's observers (``tomodachi.testing``'s ``app.published``)
    once the broker took it.
    """
    runtime = runtime_of(service)
    envelope = resolve_envelope(service, message_envelope, message_protocol)
    payload = await build_payload(service, envelope, routing_key, data, **kwargs)
    prefix = (
        service.options.amqp.routing_key_prefix
        if routing_key_prefix is DEFAULT
        else (routing_key_prefix or "")
    )
    exchange = default_exchange(service, exchange_name)
    key = encode_routing_key(prefix + routing_key)
    message_id = uuid.uuid4().hex
    body = payload.encode("utf-8")
    backend = backend_for(service, runtime)
    active = _hooks.active
    if active is None:
        await backend.publish(service, runtime, exchange, key, body, message_id=message_id)
    else:  # instrumented (tomodachi.observability): a producer span, traceparent in the headers

        def send(headers: dict[str, str]) -> Awaitable[None]:
            return backend.publish(
                service, runtime, exchange, key, body, message_id=message_id, headers=headers
            )

        await active.publish(send, "amqp", service, routing_key)
    observers = observers_of(runtime)
    if observers.published:  # the one check when nobody listens
        observers.report_published(
            Published("amqp", _service_name(service), routing_key, payload, message_id, data)
        )
    return message_id


def _service_name(service: Any) -> str:
    return str(getattr(service, "name", None) or type(service).__name__)


publish = amqp_publish
