"""Publishing to SNS topics and sending to SQS queues on AWS: topic ARNs and queue URLs, retries, errors.

Each call is retried while it fails transiently (throttling, 5xx, connection errors), up to
:data:`PUBLISH_ATTEMPTS` times, then fails with one clear ``AWSSNSSQSException``. Topic ARNs and
queue URLs are cached on the run's :class:`~.clients.AwsClients`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Final, TypeVar

from tomodachi.transport.aws_sns_sqs.backoff import Backoff
from tomodachi.transport.aws_sns_sqs.clients import (
    AwsClients,
    Service,
    aws_error,
    error_code,
    is_missing_queue,
    is_transient,
)
from tomodachi.transport.aws_sns_sqs.errors import AWSSNSSQSException, missing_queue_error
from tomodachi.transport.aws_sns_sqs.topology import split_arn

__all__ = ["PUBLISH_ATTEMPTS", "publish", "queue_url", "send_message"]

T = TypeVar("T")

PUBLISH_ATTEMPTS: Final = 3
_INVALID_PARAMETER: Final = frozenset(
    {"InvalidParameter", "InvalidParameterException", "InvalidParameterValue"}
)
_TOPIC_NOT_FOUND: Final = frozenset({"NotFound", "NotFoundException"})


async def _attempts(
    clients: AwsClients,
    service: Service,
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    passthrough: Callable[[BaseException], bool] = lambda exc: False,
) -> T:
    """*call* up to :data:`PUBLISH_ATTEMPTS` times while it fails transiently; else one clear error."""
    backoff = Backoff(first=0.25, cap=4.0)
    for attempt in range(1, PUBLISH_ATTEMPTS + 1):
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if passthrough(exc):
                raise
            if attempt < PUBLISH_ATTEMPTS and is_transient(exc):
                await asyncio.sleep(backoff.next())
                continue
            error = aws_error(exc, clients.settings, service, what)
            if attempt > 1:
                error.args = (f"{error.args[0]} (after {attempt} attempts)",)
            raise error from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _topic_attributes(options: Any, topic_attributes: Any) -> dict[str, str]:
    if isinstance(topic_attributes, str):
        try:
            topic_attributes = json.loads(topic_attributes) if topic_attributes.strip() else {}
        except ValueError:
            raise AWSSNSSQSException("topic_attributes must be a dict or a JSON object string") from None
    if topic_attributes is not None and not isinstance(topic_attributes, Mapping):
        raise AWSSNSSQSException("topic_attributes must be a dict or a JSON object string")
    wanted = {
        str(k): (json.dumps(v) if isinstance(v, bool) else str(v))
        for k, v in (topic_attributes or {}).items()
    }
    key = options.sns_kms_master_key_id
    if key and "KmsMasterKeyId" not in wanted:
        wanted["KmsMasterKeyId"] = str(key)
    return wanted


async def _topic_arn(
    clients: AwsClients, options: Any, name: str, topic_attributes: Any, overwrite: bool
) -> str:
    arn = clients.topic_arns.get(name)
    if arn is not None:
        return arn
    wanted = _topic_attributes(options, topic_attributes)
    what = f"resolving SNS topic {name!r}"
    if not options.manage_topology:
        account = await _attempts(clients, "sts", what, clients.account_id)
        region = await clients.region()
        arn = f"arn:aws:sns:{region}:{account}:{name}"
        await _attempts(
            clients, "sns", what, partial(clients.call, "sns", "get_topic_attributes", TopicArn=arn),
            passthrough=lambda exc: error_code(exc) in _TOPIC_NOT_FOUND,
        )  # fmt: skip
    else:
        base = {"FifoTopic": "true"} if name.endswith(".fifo") else {}

        async def create(attributes: dict[str, str]) -> str:
            response = await clients.call("sns", "create_topic", Name=name, Attributes=attributes)
            return str(response["TopicArn"])

        try:
            arn = await _attempts(
                clients, "sns", what, lambda: create({**base, **wanted}),
                passthrough=lambda exc: bool(wanted) and error_code(exc) in _INVALID_PARAMETER,
            )  # fmt: skip
        except Exception as exc:  # the topic exists with other attributes: keep them (or overwrite below)
            if error_code(exc) not in _INVALID_PARAMETER:
                raise
            arn = await _attempts(clients, "sns", what, lambda: create(base))
        if overwrite and wanted:
            current = await _attempts(
                clients, "sns", what, partial(clients.call, "sns", "get_topic_attributes", TopicArn=arn)
            )
            for attribute, value in wanted.items():
                if (current.get("Attributes") or {}).get(attribute) != value:
                    set_attribute = partial(
                        clients.call, "sns", "set_topic_attributes", TopicArn=arn, AttributeName=attribute,
                        AttributeValue=value,
                    )  # fmt: skip
                    await _attempts(clients, "sns", what, set_attribute)
    clients.topic_arns[name] = arn
    return arn


async def publish(
    clients: AwsClients,
    options: Any,
    topic_name: str,
    payload: str,
    *,
    message_attributes: Mapping[str, Any],
    group_id: str | None,
    deduplication_id: str | None,
    topic_attributes: Any,
    overwrite_topic_attributes: bool,
) -> str:
    """Publish *payload* to the (encoded, prefixed) SNS topic *topic_name*; returns the MessageId.

    *options* is the service's ``aws_sns_sqs`` section.
    """
    try:
        arn = await _topic_arn(clients, options, topic_name, topic_attributes, overwrite_topic_attributes)
    except Exception as exc:
        if error_code(exc) in _TOPIC_NOT_FOUND:
            raise AWSSNSSQSException(
                f"SNS topic {topic_name!r} does not exist "
                "(aws_sns_sqs.manage_topology is off, so it is not created)"
            ) from None
        raise
    request: dict[str, Any] = {"TopicArn": arn, "Message": payload}
    if message_attributes:
        request["MessageAttributes"] = dict(message_attributes)
    if group_id is not None:
        request["MessageGroupId"] = group_id
        request["MessageDeduplicationId"] = deduplication_id or str(uuid.uuid4())
    what = f"publishing to SNS topic {topic_name!r}"
    try:
        response = await _attempts(
            clients, "sns", what, partial(clients.call, "sns", "publish", **request),
            passthrough=lambda exc: error_code(exc) in _TOPIC_NOT_FOUND,
        )  # fmt: skip
    except Exception as exc:
        if error_code(exc) not in _TOPIC_NOT_FOUND:
            raise
        clients.topic_arns.pop(topic_name, None)  # deleted since it was cached: resolve it again
        request["TopicArn"] = await _topic_arn(
            clients, options, topic_name, topic_attributes, overwrite_topic_attributes
        )
        response = await _attempts(clients, "sns", what, partial(clients.call, "sns", "publish", **request))
    return str(response["MessageId"])


async def queue_url(clients: AwsClients, name_url_or_arn: str) -> str:
    """The URL of an SQS queue given by (prefixed) name, URL or ARN (``GetQueueUrl``, cached)."""
    if name_url_or_arn.startswith(("https://", "http://")):
        return name_url_or_arn
    cached = clients.queue_urls.get(name_url_or_arn)
    if cached is not None:
        return cached
    request: dict[str, Any] = {"QueueName": name_url_or_arn}
    if name_url_or_arn.startswith("arn:"):
        _region, owner, name = split_arn(name_url_or_arn)
        request = {"QueueName": name, "QueueOwnerAWSAccountId": owner}
    try:
        response = await _attempts(
            clients, "sqs", f"resolving SQS queue {name_url_or_arn!r}",
            partial(clients.call, "sqs", "get_queue_url", **request), passthrough=is_missing_queue,
        )  # fmt: skip
    except Exception as exc:
        if is_missing_queue(exc):
            raise missing_queue_error(name_url_or_arn, exc) from None
        raise
    url = str(response["QueueUrl"])
    clients.queue_urls[name_url_or_arn] = url
    return url


async def send_message(
    clients: AwsClients,
    queue_url: str,
    body: str,
    *,
    message_attributes: Mapping[str, Any],
    delay_seconds: int | None,
    group_id: str | None,
    deduplication_id: str | None,
) -> str:
    """``SendMessage`` of *body* to *queue_url*; returns the SQS MessageId."""
    request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": body}
    if message_attributes:
        request["MessageAttributes"] = dict(message_attributes)
    if delay_seconds is not None:
        request["DelaySeconds"] = int(delay_seconds)
    if group_id is not None:
        request["MessageGroupId"] = group_id
        request["MessageDeduplicationId"] = deduplication_id or str(uuid.uuid4())
    try:
        response = await _attempts(
            clients, "sqs", f"sending to SQS queue {queue_url}",
            partial(clients.call, "sqs", "send_message", **request), passthrough=is_missing_queue,
        )  # fmt: skip
    except Exception as exc:
        if is_missing_queue(exc):
            for key, url in list(clients.queue_urls.items()):
                if url == queue_url:
                    del clients.queue_urls[key]
            raise missing_queue_error(queue_url, exc) from None
        raise
    return str(response["MessageId"])
