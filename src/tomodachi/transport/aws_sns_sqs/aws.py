"""The AWS backend of ``@tomodachi.aws_sns_sqs``, ``aws_sns_sqs_publish`` and ``sqs_send_message``.

:class:`AwsSnsSqsTransport` serves a service's handlers on Amazon SNS+SQS (or any endpoint that
speaks their APIs: localstack, moto) through aiobotocore:

- ``start``: set up (or verify, with ``manage_topology`` off) every handler's topology, in
  declaration order (:mod:`.topology`); a wrong endpoint or refused credentials fail here with
  one line, in bounded time;
- ``started``: one receive loop and one visibility extender per handler (:mod:`.consumer`);
- ``stop``: cancel the receive loops, let in-flight handlers finish within the grace period,
  then make the messages of the cancelled ones visible again.

The clients are shared per set of options in the run (:mod:`.clients`) and closed with it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tomodachi._tasks import TaskTracker, gather_or_cancel
from tomodachi.logging import get_logger
from tomodachi.transport.aws_sns_sqs.clients import (
    AwsClients,
    Service,
    aws_error,
    clients_for,
    error_code,
    is_missing_queue,
    is_transient,
)
from tomodachi.transport.aws_sns_sqs.consumer import Backoff, QueueConsumer
from tomodachi.transport.aws_sns_sqs.errors import AWSSNSSQSException, missing_queue_error
from tomodachi.transport.aws_sns_sqs.topology import ConsumerTopology, Topology, split_arn
from tomodachi.transport.aws_sns_sqs.transport import AWSSNSSQSTransport, SqsConsumer

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service as TomodachiService

__all__ = ["AwsSnsSqsTransport", "publish", "queue_url", "send_message"]

T = TypeVar("T")

PUBLISH_ATTEMPTS: Final = 3
_INVALID_PARAMETER: Final = frozenset(
    {"InvalidParameter", "InvalidParameterException", "InvalidParameterValue"}
)
_TOPIC_NOT_FOUND: Final = frozenset({"NotFound", "NotFoundException"})


class AwsSnsSqsTransport(AWSSNSSQSTransport):
    """The SNS+SQS handlers of one service, on AWS."""

    def __init__(self, service: TomodachiService, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.queue_consumers: list[QueueConsumer] = []
        self._receivers = TaskTracker()
        self._extenders = TaskTracker()
        self._topology: Topology | None = None
        self._log = get_logger("tomodachi.aws_sns_sqs")

    async def start(self) -> None:
        if not self.consumers:
            return
        clients = clients_for(self.service, self.runtime)
        options = self.service.options.aws_sns_sqs
        topology = self._topology = Topology(clients, options, manage=bool(options.manage_topology))
        # Queues are set up concurrently; handlers sharing a queue one after the other (they
        # build one queue policy together).
        by_queue: dict[str, list[SqsConsumer]] = {}
        for consumer in self.consumers:
            by_queue.setdefault(consumer.queue, []).append(consumer)
        done: dict[int, ConsumerTopology | None] = {}

        async def set_up(consumers: list[SqsConsumer]) -> None:
            for consumer in consumers:
                done[id(consumer)] = await topology.setup(consumer)

        await gather_or_cancel(*map(set_up, by_queue.values()))
        results = [(c, r) for c in self.consumers if (r := done[id(c)]) is not None]
        topology.raise_if_missing()
        for consumer, result in results:
            self.queue_consumers.append(
                QueueConsumer(self, consumer, clients, result, self.tasks, self._resetup(topology, consumer))
            )
            self._log.info(
                "consuming SQS queue",
                handler=consumer.handler.name,
                queue=result.queue.name,
                topics=[arn.rsplit(":", 1)[-1] for arn in result.topic_arns],
            )

    @staticmethod
    def _resetup(topology: Topology, consumer: SqsConsumer) -> Callable[[], Awaitable[ConsumerTopology]]:
        async def again() -> ConsumerTopology:
            result = await topology.setup(consumer)
            topology.raise_if_missing()
            assert result is not None
            return result

        return again

    async def started(self) -> None:
        for queue_consumer in self.queue_consumers:
            name = queue_consumer.consumer.handler.name
            self._receivers.spawn(queue_consumer.receive_loop(), name=f"aws_sns_sqs:receive:{name}")
            self._extenders.spawn(queue_consumer.extend_loop(), name=f"aws_sns_sqs:extend:{name}")

    async def stop(self) -> None:
        await self._receivers.cancel_all()  # stop intake: cancels the long polls
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log.warning(
                "handlers still running at the end of the grace period were cancelled; "
                "their messages are returned to the queue",
                count=len(cancelled),
                grace_period=self.grace_period,
            )
        await self._extenders.cancel_all()
        await asyncio.gather(*(c.release_unfinished() for c in self.queue_consumers))

    async def close(self) -> None:
        await self._receivers.cancel_all()
        await self.tasks.cancel_all()
        await self._extenders.cancel_all()

    @property
    def ready(self) -> bool:
        return len(self._receivers) == len(self.queue_consumers)


# -- publishing and sending ---------------------------------------------------------------------
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
    service: Any,
    runtime: Runtime,
    topic_name: str,
    payload: str,
    *,
    message_attributes: Mapping[str, Any],
    group_id: str | None,
    deduplication_id: str | None,
    topic_attributes: Any,
    overwrite_topic_attributes: bool,
) -> str:
    """Publish *payload* to the (encoded, prefixed) SNS topic *topic_name*; returns the MessageId."""
    clients = clients_for(service, runtime)
    options = service.options.aws_sns_sqs
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


async def queue_url(service: Any, runtime: Runtime, name_url_or_arn: str) -> str:
    """The URL of an SQS queue given by (prefixed) name, URL or ARN (``GetQueueUrl``, cached)."""
    if name_url_or_arn.startswith(("https://", "http://")):
        return name_url_or_arn
    clients = clients_for(service, runtime)
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
    service: Any,
    runtime: Runtime,
    queue_url: str,
    body: str,
    *,
    message_attributes: Mapping[str, Any],
    delay_seconds: int | None,
    group_id: str | None,
    deduplication_id: str | None,
) -> str:
    """``SendMessage`` of *body* to *queue_url*; returns the SQS MessageId."""
    clients = clients_for(service, runtime)
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
