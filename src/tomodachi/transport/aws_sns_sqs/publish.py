"""Publishing to SNS topics and sending to SQS queues, on AWS or the in-memory broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from tomodachi.messaging.backend import runtime_of, uses_memory_broker
from tomodachi.messaging.envelopes import DEFAULT, build_payload, resolve_envelope
from tomodachi.transport.aws_sns_sqs.attributes import encode_attributes, notification_attributes
from tomodachi.transport.aws_sns_sqs.naming import topic_name, validate_topic_name

__all__ = [
    "MessageBodyFormatter",
    "MessageBodyFormatterContext",
    "MessageBodyFormatterProtocol",
    "aws_sns_sqs_publish",
    "sqs_send_message",
]


@dataclass(frozen=True, slots=True)
class MessageBodyFormatterContext:
    """What a message body formatter gets for one ``sqs_send_message`` call."""

    data: Any
    message_attributes: Mapping[str, Any]
    queue_name: str
    queue_url: str
    service: Any
    message_envelope: Any
    formatter: Any
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class MessageBodyFormatterProtocol(Protocol):
    def __call__(self, context: MessageBodyFormatterContext) -> Awaitable[str]: ...


class MessageBodyFormatter:
    """The default body of ``sqs_send_message``: an SNS-notification-like JSON document.

    ``{"Type": "Message", "QueueUrl", "Version": "0", "Message": <enveloped data>, "Timestamp",
    "MessageAttributes"}``, so handlers read it like a message that came through a topic.
    """

    async def __call__(self, context: MessageBodyFormatterContext) -> str:
        from tomodachi.envelope._json import dumps

        payload = await build_payload(
            context.service, context.message_envelope, "", context.data, **dict(context.kwargs)
        )
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "Type": "Message",
            "QueueUrl": context.queue_url,
            "Version": "0",
            "Message": payload,
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "MessageAttributes": notification_attributes(encode_attributes(context.message_attributes)),
        }
        return str(dumps(body))


_DEFAULT_FORMATTER = MessageBodyFormatter()


def _maybe_background(coro: Coroutine[Any, Any, str], wait: bool) -> Awaitable[str] | asyncio.Task[str]:
    return coro if wait else asyncio.ensure_future(coro)


async def aws_sns_sqs_publish(
    service: Any,
    data: Any,
    topic: str,
    wait: bool = True,
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    topic_prefix: Any = DEFAULT,
    message_attributes: Mapping[str, Any] | None = None,
    topic_attributes: Any = DEFAULT,
    overwrite_topic_attributes: bool = False,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    **kwargs: Any,
) -> str | asyncio.Task[str]:
    """Publish *data* to SNS *topic*; returns the SNS ``MessageId`` (a task with ``wait=False``).

    A ``group_id`` publishes to the FIFO topic ``<topic>.fifo`` (deduplication id: a new uuid
    unless given). Message attributes are str, numbers, bytes, bools, None or lists.
    """
    coro = _publish(
        service,
        data,
        topic,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        topic_prefix=topic_prefix,
        message_attributes=message_attributes,
        topic_attributes=topic_attributes,
        overwrite_topic_attributes=overwrite_topic_attributes,
        group_id=group_id,
        deduplication_id=deduplication_id,
        **kwargs,
    )
    result = _maybe_background(coro, wait)
    return result if isinstance(result, asyncio.Task) else await result


async def _publish(
    service: Any,
    data: Any,
    topic: str,
    *,
    message_envelope: Any,
    message_protocol: Any,
    topic_prefix: Any,
    message_attributes: Mapping[str, Any] | None,
    topic_attributes: Any,
    overwrite_topic_attributes: bool,
    group_id: str | None,
    deduplication_id: str | None,
    **kwargs: Any,
) -> str:
    runtime = runtime_of(service)
    envelope = resolve_envelope(service, message_envelope, message_protocol)
    attributes = dict(message_attributes or {})
    payload = await build_payload(
        service, envelope, topic, data, message_attributes=dict(attributes), **kwargs
    )
    prefix = service.options.aws_sns_sqs.topic_prefix if topic_prefix is DEFAULT else (topic_prefix or "")
    fifo = group_id is not None
    name = topic_name(topic, prefix, fifo=fifo)
    validate_topic_name(name)
    if fifo and deduplication_id is None:
        deduplication_id = str(uuid.uuid4())
    encoded = encode_attributes(attributes)
    if uses_memory_broker(service, runtime, "aws_sns_sqs"):
        from tomodachi.transport.memory.broker import MemoryBroker

        return MemoryBroker.of(runtime).publish_sns(
            name, payload, message_attributes=encoded, group_id=group_id, deduplication_id=deduplication_id
        )
    from tomodachi.transport.aws_sns_sqs.aws import publish as aws_publish

    return await aws_publish(
        service,
        runtime,
        name,
        payload,
        message_attributes=encoded,
        group_id=group_id,
        deduplication_id=deduplication_id,
        topic_attributes=None if topic_attributes is DEFAULT else topic_attributes,
        overwrite_topic_attributes=overwrite_topic_attributes,
    )


async def sqs_send_message(
    service: Any,
    data: Any,
    queue_name: str,
    wait: bool = True,
    *,
    message_envelope: Any = DEFAULT,
    message_protocol: Any = DEFAULT,
    queue_name_prefix: Any = DEFAULT,
    message_attributes: Mapping[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    delay_seconds: int | None = None,
    message_body_formatter: Any = _DEFAULT_FORMATTER,
    **kwargs: Any,
) -> str | asyncio.Task[str]:
    """Send *data* straight to SQS *queue_name* (a name, a queue URL or an ARN).

    ``group_id`` is required exactly for FIFO queues (names ending in ``.fifo``). The body is
    built by *message_body_formatter* (``None``: *data* is sent verbatim, no envelope).
    """
    coro = _send(
        service,
        data,
        queue_name,
        message_envelope=message_envelope,
        message_protocol=message_protocol,
        queue_name_prefix=queue_name_prefix,
        message_attributes=message_attributes,
        group_id=group_id,
        deduplication_id=deduplication_id,
        delay_seconds=delay_seconds,
        message_body_formatter=message_body_formatter,
        **kwargs,
    )
    result = _maybe_background(coro, wait)
    return result if isinstance(result, asyncio.Task) else await result


def resolve_queue_name(service: Any, queue_name: str, queue_name_prefix: Any = DEFAULT) -> str:
    """A plain name gets ``aws_sns_sqs.queue_name_prefix``; URLs and ARNs are used as they are."""
    if queue_name.startswith(("https://", "http://", "arn:", "memory://")):
        return queue_name
    prefix = (
        service.options.aws_sns_sqs.queue_name_prefix
        if queue_name_prefix is DEFAULT
        else (queue_name_prefix or "")
    )
    return prefix + queue_name


async def _send(
    service: Any,
    data: Any,
    queue_name: str,
    *,
    message_envelope: Any,
    message_protocol: Any,
    queue_name_prefix: Any,
    message_attributes: Mapping[str, Any] | None,
    group_id: str | None,
    deduplication_id: str | None,
    delay_seconds: int | None,
    message_body_formatter: Any,
    **kwargs: Any,
) -> str:
    runtime = runtime_of(service)
    name = resolve_queue_name(service, queue_name, queue_name_prefix)
    fifo = name.rsplit("/", 1)[-1].rsplit(":", 1)[-1].endswith(".fifo")
    if fifo and group_id is None:
        raise ValueError(f"sqs_send_message to FIFO queue {queue_name!r} needs a group_id")
    if not fifo and group_id is not None:
        raise ValueError(
            f"sqs_send_message: group_id is only for FIFO queues ({queue_name!r} does not end in .fifo)"
        )
    if fifo and deduplication_id is None:
        deduplication_id = str(uuid.uuid4())
    attributes = dict(message_attributes or {})
    envelope = resolve_envelope(service, message_envelope, message_protocol)
    memory = uses_memory_broker(service, runtime, "aws_sns_sqs")
    if memory:
        from tomodachi.transport.memory.broker import MemoryBroker

        broker = MemoryBroker.of(runtime)
        queue_url = broker.queue_url(name)
    else:
        from tomodachi.transport.aws_sns_sqs.aws import queue_url as aws_queue_url

        queue_url = await aws_queue_url(service, runtime, name)
    if message_body_formatter is None:
        if not isinstance(data, str):
            from tomodachi.messaging.envelopes import PayloadError

            raise PayloadError(
                f"with message_body_formatter=None, data must be str (got {type(data).__name__})"
            )
        body = data
    else:
        context = MessageBodyFormatterContext(
            data=data,
            message_attributes=attributes,
            queue_name=name,
            queue_url=queue_url,
            service=service,
            message_envelope=envelope,
            formatter=message_body_formatter,
            kwargs=kwargs,
        )
        body = await message_body_formatter(context)
    encoded = encode_attributes(attributes)
    if memory:
        return broker.send_sqs(
            name,
            body,
            message_attributes=encoded,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )
    from tomodachi.transport.aws_sns_sqs.aws import send_message as aws_send

    return await aws_send(
        service,
        runtime,
        queue_url,
        body,
        message_attributes=encoded,
        delay_seconds=delay_seconds,
        group_id=group_id,
        deduplication_id=deduplication_id,
    )
