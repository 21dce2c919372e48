"""``aws_sns_sqs_publish`` and ``sqs_send_message``: build the message, hand it to the service's client.

The broker (AWS or the in-memory one) is behind :func:`.client.client_for`, chosen there only.
Each message is reported to the run's observers once the broker took it
(:class:`~tomodachi.messaging.observe.Published`: ``aws_sns_sqs`` for a publish, ``sqs`` for a send).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from tomodachi.messaging.backend import runtime_of
from tomodachi.messaging.background import background_unless_wait
from tomodachi.messaging.envelopes import DEFAULT, PayloadError, build_payload, resolve_envelope
from tomodachi.messaging.observe import Published, observers_of
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.aws_sns_sqs.attributes import encode_attributes, notification_attributes
from tomodachi.transport.aws_sns_sqs.client import client_for
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


@background_unless_wait(3)
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
) -> str:
    """Publish *data* to SNS *topic*; returns the SNS ``MessageId`` (a task with ``wait=False``).

    A ``group_id`` publishes to the FIFO topic ``<topic>.fifo`` (deduplication id: a new uuid
    unless given). Message attributes are str, numbers, bytes, bools, None or lists.
    """
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
    client = client_for(service, runtime)

    def send(headers: Mapping[str, str]) -> Awaitable[str]:
        return client.publish(
            name,
            payload,
            message_attributes=encode_attributes({**attributes, **headers} if headers else attributes),
            group_id=group_id,
            deduplication_id=deduplication_id,
            topic_attributes=None if topic_attributes is DEFAULT else topic_attributes,
            overwrite_topic_attributes=overwrite_topic_attributes,
        )

    active = _hooks.active  # instrumented: a producer span, traceparent in the attributes
    message_id = await (send({}) if active is None else active.publish(send, "aws_sns_sqs", service, topic))
    observers = observers_of(runtime)
    if observers.published:  # the one check when nobody listens (tomodachi.testing does)
        observers.report_published(
            Published("aws_sns_sqs", _service_name(service), topic, payload, message_id, data)
        )
    return message_id


def _service_name(service: Any) -> str:
    return str(getattr(service, "name", None) or type(service).__name__)


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


def _fifo_deduplication_id(
    queue: str, shown: str, group_id: str | None, deduplication_id: str | None
) -> str | None:
    """Check that *group_id* is given exactly for FIFO queues; a FIFO send gets a dedup id."""
    fifo = queue.rsplit("/", 1)[-1].rsplit(":", 1)[-1].endswith(".fifo")
    if fifo and group_id is None:
        raise ValueError(f"sqs_send_message to FIFO queue {shown!r} needs a group_id")
    if not fifo and group_id is not None:
        raise ValueError(
            f"sqs_send_message: group_id is only for FIFO queues ({shown!r} does not end in .fifo)"
        )
    if fifo and deduplication_id is None:
        return str(uuid.uuid4())
    return deduplication_id


async def _format_body(formatter: Any, context: MessageBodyFormatterContext) -> str:
    """The SQS body: the formatter's output, or the data itself when there is no formatter."""
    if formatter is None:
        if not isinstance(context.data, str):
            raise PayloadError(
                f"with message_body_formatter=None, data must be str (got {type(context.data).__name__})"
            )
        return context.data
    return str(await formatter(context))


@background_unless_wait(3)
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
) -> str:
    """Send *data* straight to SQS *queue_name* (a name, a queue URL or an ARN).

    ``group_id`` is required exactly for FIFO queues (names ending in ``.fifo``). The body is
    built by *message_body_formatter* (``None``: *data* is sent verbatim, no envelope).
    """
    runtime = runtime_of(service)
    name = resolve_queue_name(service, queue_name, queue_name_prefix)
    deduplication_id = _fifo_deduplication_id(name, queue_name, group_id, deduplication_id)
    attributes = dict(message_attributes or {})
    client = client_for(service, runtime)
    queue_url = await client.queue_url(name)
    context = MessageBodyFormatterContext(
        data=data,
        message_attributes=attributes,
        queue_name=name,
        queue_url=queue_url,
        service=service,
        message_envelope=resolve_envelope(service, message_envelope, message_protocol),
        formatter=message_body_formatter,
        kwargs=kwargs,
    )
    body = await _format_body(message_body_formatter, context)

    def send(headers: Mapping[str, str]) -> Awaitable[str]:
        return client.send_message(
            queue_url,
            body,
            message_attributes=encode_attributes({**attributes, **headers} if headers else attributes),
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )

    active = _hooks.active  # instrumented: a producer span, traceparent in the attributes
    message_id = await (send({}) if active is None else active.publish(send, "sqs", service, queue_name))
    observers = observers_of(runtime)
    if observers.published:
        observers.report_published(
            Published("sqs", _service_name(service), queue_name, body, message_id, data)
        )
    return message_id
