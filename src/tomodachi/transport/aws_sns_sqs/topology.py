"""The SNS topics, SQS queues, dead-letter queues, policies and subscriptions of the handlers.

:meth:`Topology.setup` makes one handler's topology exist, idempotently, and changes only what
differs from the handler's declaration: it reads first (``GetQueueUrl``, ``GetQueueAttributes``,
``ListSubscriptionsByTopic``, ``GetSubscriptionAttributes``) and writes only the difference.
With ``aws_sns_sqs.manage_topology`` off it writes nothing at all: what is missing is collected
and :meth:`Topology.raise_if_missing` fails start-up with one line naming it, and settings that
differ are logged as warnings.

Queue-only handlers (a ``queue_name`` without a topic) get their visibility timeout, dead-letter
queue and KMS settings too (the original ignored them).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tomodachi.logging import get_logger
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.transport.aws_sns_sqs.client import QueueBinding
from tomodachi.transport.aws_sns_sqs.clients import (
    AwsClients,
    AWSSNSSQSStartError,
    Service,
    aws_error,
    error_code,
)
from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer

__all__ = [
    "FIFO_QUEUE_ATTRIBUTES",
    "QueueInfo",
    "Topology",
    "queue_policy",
    "split_arn",
    "topic_pattern",
]

FIFO_QUEUE_ATTRIBUTES: Final = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "messageGroup",
    "FifoThroughputLimit": "perMessageGroupId",
}
DLQ_RETENTION_PERIOD: Final = "1209600"  # 14 days, the maximum
#: Seconds one AWS call may take while setting up (start-up fails in bounded time).
CALL_TIMEOUT: Final = 8.0
#: What removes a subscription's filter policy (accepted by AWS, localstack and moto).
NO_FILTER_POLICY: Final = "{}"

_MISSING_QUEUE: Final = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_MISSING_TOPIC: Final = frozenset({"NotFound", "NotFoundException"})
_ENCODED_DOT: Final = "___2e_"


@dataclass(slots=True)
class QueueInfo:
    name: str
    url: str
    arn: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def visibility_timeout(self) -> int:
        try:
            return int(self.attributes.get("VisibilityTimeout", "30"))
        except ValueError:
            return 30


def split_arn(arn: str) -> tuple[str, str, str]:
    """``arn:aws:<svc>:<region>:<account>:<name>`` -> ``(region, account, name)``."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise AWSSNSSQSStartError(f"not an ARN: {arn!r}")
    return parts[3], parts[4], parts[5]


def topic_pattern(pattern: str) -> re.Pattern[str]:
    """A wildcard topic (encoded) as a regex: ``*`` is anything but an encoded dot, ``#`` anything."""
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(f"(?:(?!{_ENCODED_DOT}).)*")
        elif ch == "#":
            parts.append(".*")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts))


def queue_policy(queue_arn: str, sources: Collection[str]) -> dict[str, Any]:
    """The queue policy that lets the SNS topics *sources* (ARNs or ARN patterns) send to it."""
    ordered = sorted(set(sources))
    like = len(ordered) > 1 or any("*" in source or "?" in source for source in ordered)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "tomodachi-sns-to-sqs",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "SQS:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    ("ArnLike" if like else "ArnEquals"): {
                        "aws:SourceArn": ordered[0] if len(ordered) == 1 else ordered
                    }
                },
            }
        ],
    }


def _json(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _redrive(value: Any) -> Any:
    parsed = _json(value)
    if isinstance(parsed, dict):
        if not parsed:
            return None
        parsed = dict(parsed)
        try:
            parsed["maxReceiveCount"] = int(parsed.get("maxReceiveCount", 0))
        except (TypeError, ValueError):
            pass
    return parsed


def _filter(value: Any) -> Any:
    parsed = _json(value) if isinstance(value, str) else value
    return parsed or None  # "" / "{}" / None: no filtering


_COMPARE: Final = {"Policy": _json, "RedrivePolicy": _redrive}


def _what(operation: str, kwargs: dict[str, Any]) -> str:
    """``GetQueueUrl(orders)``: the AWS operation and what it was about, for error messages."""
    name = "".join(part.title() for part in operation.split("_"))
    target = next((kwargs[k] for k in ("QueueName", "Name", "TopicArn", "QueueUrl") if kwargs.get(k)), "")
    return f"{name}({str(target).rsplit('/', 1)[-1].rsplit(':', 1)[-1]})" if target else name


class Topology:
    """Sets up (or, with *manage* off, verifies) the topology of handlers, one at a time."""

    def __init__(
        self, clients: AwsClients, options: Any, *, manage: bool, call_timeout: float | None = CALL_TIMEOUT
    ) -> None:
        self.clients = clients
        self.options = options  # the service's aws_sns_sqs section
        self.manage = manage
        self.call_timeout = call_timeout
        self.missing: list[str] = []
        self._sources: dict[str, set[str]] = {}  # queue ARN -> topic ARNs (patterns) that send to it
        self._log = get_logger("tomodachi.aws_sns_sqs")

    async def _call(
        self, service: Service, operation: str, *, absent: Collection[str] = (), **kwargs: Any
    ) -> dict[str, Any] | None:
        """One AWS call; ``None`` when it failed with an error code in *absent* (a missing thing)."""
        try:
            return await self.clients.call(service, operation, self.call_timeout, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if error_code(exc) in absent:
                return None
            raise aws_error(
                exc, self.clients.settings, service, _what(operation, kwargs), start=True
            ) from exc

    async def _must(self, service: Service, operation: str, **kwargs: Any) -> dict[str, Any]:
        result = await self._call(service, operation, **kwargs)
        assert result is not None
        return result

    async def _items(self, service: Service, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list operation (``NextToken``)."""
        items: list[dict[str, Any]] = []
        while True:
            page = await self._must(service, operation, **kwargs)
            items.extend(page.get(key) or [])
            kwargs["NextToken"] = page.get("NextToken")
            if not kwargs["NextToken"]:
                return items

    def raise_if_missing(self) -> None:
        if not self.missing:
            return
        missing = "; ".join(dict.fromkeys(self.missing))
        self.missing.clear()
        hint = "" if self.manage else " (aws_sns_sqs.manage_topology is off: create them, or turn it on)"
        raise AWSSNSSQSStartError(f"the SNS/SQS topology is incomplete: {missing}{hint}")

    # -- queues ---------------------------------------------------------------------------
    async def queue(self, name: str, *, fifo: bool, dead_letter: bool = False) -> QueueInfo | None:
        """The queue *name* (or ARN), created when missing and managed; ``None`` if missing."""
        kind = "dead-letter queue" if dead_letter else "queue"
        if name.startswith("arn:"):
            _region, owner, short = split_arn(name)
            found = await self._call(
                "sqs", "get_queue_url", absent=_MISSING_QUEUE, QueueName=short, QueueOwnerAWSAccountId=owner
            )
            if found is None:
                self.missing.append(f"{kind} {name} does not exist (queues given by ARN are never created)")
                return None
        else:
            short = name
            found = await self._call("sqs", "get_queue_url", absent=_MISSING_QUEUE, QueueName=name)
            if found is None:
                if not self.manage:
                    self.missing.append(f"{kind} {name!r} does not exist")
                    return None
                attributes = dict(FIFO_QUEUE_ATTRIBUTES) if fifo else {}
                if dead_letter:
                    attributes["MessageRetentionPeriod"] = DLQ_RETENTION_PERIOD
                found = await self._must("sqs", "create_queue", QueueName=name, Attributes=attributes)
                self._log.info(f"created SQS {kind}", queue=name)
        url = str(found["QueueUrl"])
        response = await self._must("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
        attributes = {str(k): str(v) for k, v in (response.get("Attributes") or {}).items()}
        return QueueInfo(short, url, attributes.get("QueueArn", ""), attributes)

    # -- topics ---------------------------------------------------------------------------
    async def topic(self, name: str, *, fifo: bool, region: str, account: str) -> str | None:
        """The ARN of topic *name*, created when managed; ``None`` if missing (not managed)."""
        if not self.manage:
            arn = f"arn:aws:sns:{region}:{account}:{name}"
            found = await self._call("sns", "get_topic_attributes", absent=_MISSING_TOPIC, TopicArn=arn)
            if found is None:
                self.missing.append(f"topic {name!r} does not exist")
                return None
            return arn
        attributes = {"FifoTopic": "true"} if fifo else {}
        created = await self._must("sns", "create_topic", Name=name, Attributes=attributes)
        arn = str(created["TopicArn"])
        key = self.options.sns_kms_master_key_id
        if key is not None:
            wanted = key if isinstance(key, str) else ""
            current = await self._must("sns", "get_topic_attributes", TopicArn=arn)
            if (current.get("Attributes") or {}).get("KmsMasterKeyId", "") != wanted:
                await self._must(
                    "sns",
                    "set_topic_attributes",
                    TopicArn=arn,
                    AttributeName="KmsMasterKeyId",
                    AttributeValue=wanted,
                )
                self._log.info("updated SNS topic encryption", topic=name)
        return arn

    async def match(self, pattern: str) -> list[str]:
        """ARNs of the existing topics matching the wildcard *pattern* (``ListTopics``)."""
        regex = topic_pattern(pattern)
        topics = await self._items("sns", "list_topics", "Topics")
        arns = [
            str(t["TopicArn"])
            for t in topics
            if regex.fullmatch(str(t.get("TopicArn", "")).rsplit(":", 1)[-1])
        ]
        if not arns:
            self._log.warning(
                "no existing SNS topic matches the wildcard topic (topics are matched at start-up)",
                topic=pattern,
            )
        return arns

    # -- subscriptions -----------------------------------------------------------------------
    async def _subscription(self, topic_arn: str, queue_arn: str) -> str | None:
        subscriptions = await self._items(
            "sns", "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn
        )
        for sub in subscriptions:
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                return str(sub.get("SubscriptionArn", ""))
        return None

    async def subscribe(self, topic_arn: str, queue_arn: str, filter_policy: Any) -> None:
        """Subscribe the queue to the topic, or bring an existing subscription's filter policy in line."""
        topic = topic_arn.rsplit(":", 1)[-1]
        existing = await self._subscription(topic_arn, queue_arn)
        wanted = _filter(dict(filter_policy) if isinstance(filter_policy, Mapping) else None)
        if existing is None:
            if not self.manage:
                self.missing.append(
                    f"queue {queue_arn.rsplit(':', 1)[-1]!r} is not subscribed to topic {topic!r}"
                )
                return
            attributes = {"FilterPolicy": json.dumps(wanted)} if wanted else {}
            await self._must(
                "sns",
                "subscribe",
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )
            self._log.info(
                "subscribed SQS queue to SNS topic", topic=topic, queue=queue_arn.rsplit(":", 1)[-1]
            )
            return
        if filter_policy is DEFAULT or not existing.startswith("arn:"):  # leave it / pending confirmation
            return
        current = await self._must("sns", "get_subscription_attributes", SubscriptionArn=existing)
        if _filter((current.get("Attributes") or {}).get("FilterPolicy")) == wanted:
            return
        if not self.manage:
            self._log.warning(
                "the subscription's filter policy differs from the handler's "
                "(manage_topology is off: left as it is)",
                topic=topic,
            )
            return
        await self._must(
            "sns",
            "set_subscription_attributes",
            SubscriptionArn=existing,
            AttributeName="FilterPolicy",
            AttributeValue=json.dumps(wanted) if wanted else NO_FILTER_POLICY,
        )
        self._log.info("updated the subscription's filter policy", topic=topic)

    # -- one handler ----------------------------------------------------------------------
    async def setup(self, consumer: SqsConsumer) -> QueueBinding | None:
        """Create or verify everything *consumer* needs; ``None`` when something is missing."""
        queue = await self.queue(consumer.queue, fifo=consumer.fifo)
        if queue is None:
            return None
        dead_letter_url: str | None = None
        redrive: Any = DEFAULT
        existing: tuple[str, str, int] | None = None
        if isinstance(consumer.dead_letter_queue, str):
            dlq = await self.queue(consumer.dead_letter_queue, fifo=consumer.fifo, dead_letter=True)
            if dlq is None:
                return None
            dead_letter_url = dlq.url
            if consumer.max_receive_count is not None:  # None: leave the queue's redrive policy
                redrive = {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": consumer.max_receive_count}
        elif consumer.dead_letter_queue is None:
            redrive = None
        else:  # left as it is: a redrive policy set outside tomodachi still counts
            existing = await self._existing_redrive(queue)
        topic_arns: list[str] = []
        if consumer.topic_name is not None:
            region, account, _name = split_arn(queue.arn)
            if consumer.wildcard:
                topic_arns = await self.match(consumer.topic_name)
                literal = re.split(r"[*#]", consumer.topic_name, maxsplit=1)[0]
                source = self.options.wildcard_queue_policy or f"arn:aws:sns:{region}:{account}:{literal}*"
            else:
                arn = await self.topic(
                    consumer.topic_name, fifo=consumer.fifo, region=region, account=account
                )
                if arn is None:
                    return None
                topic_arns = [arn]
                source = self.options.queue_policy or arn
            self._sources.setdefault(queue.arn, set()).add(source)
        await self._queue_attributes(queue, consumer, redrive)
        for arn in topic_arns:
            await self.subscribe(arn, queue.arn, consumer.filter_policy)
        visibility = (
            consumer.visibility_timeout
            if consumer.visibility_timeout is not None
            else queue.visibility_timeout
        )
        binding = QueueBinding(queue.name, queue.url, visibility, dead_letter_url, topic_arns)
        if existing is not None:
            binding.dead_letter_url, binding.dead_letter_name, binding.redrive_max_receive_count = existing
        return binding

    async def _existing_redrive(self, queue: QueueInfo) -> tuple[str, str, int] | None:
        """The URL, name and ``maxReceiveCount`` of the dead-letter queue of *queue*'s own redrive
        policy, if it has one that can be found (anything else: ``None``, never a start-up error)."""
        policy = _redrive(queue.attributes.get("RedrivePolicy"))
        if not isinstance(policy, dict):
            return None
        arn, count = policy.get("deadLetterTargetArn"), policy.get("maxReceiveCount")
        if not isinstance(arn, str) or not isinstance(count, int) or count < 1:
            return None
        try:
            _region, owner, name = split_arn(arn)
            found = await self._call(
                "sqs", "get_queue_url", absent=_MISSING_QUEUE, QueueName=name, QueueOwnerAWSAccountId=owner
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.warning(
                "cannot use the queue's dead-letter queue",
                queue=queue.name,
                dead_letter_queue=arn,
                error=str(exc),
            )
            return None
        return (str(found["QueueUrl"]), name, count) if found is not None else None

    async def _queue_attributes(self, queue: QueueInfo, consumer: SqsConsumer, redrive: Any) -> None:
        wanted: dict[str, str] = {}
        if consumer.visibility_timeout is not None:
            wanted["VisibilityTimeout"] = str(consumer.visibility_timeout)
        if redrive is None:
            wanted["RedrivePolicy"] = ""
        elif redrive is not DEFAULT:
            wanted["RedrivePolicy"] = json.dumps(redrive)
        key = self.options.sqs_kms_master_key_id
        if key is not None:
            wanted["KmsMasterKeyId"] = key if isinstance(key, str) else ""
            period = self.options.sqs_kms_data_key_reuse_period
            if key and period is not None:
                wanted["KmsDataKeyReusePeriodSeconds"] = str(period)
        sources = self._sources.get(queue.arn)
        if sources:
            wanted["Policy"] = json.dumps(queue_policy(queue.arn, sources))
        changed = {
            name: value
            for name, value in wanted.items()
            if _COMPARE.get(name, str)(queue.attributes.get(name, "")) != _COMPARE.get(name, str)(value)
        }
        if not changed:
            return
        if not self.manage:
            self._log.warning(
                "the queue's attributes differ from the handler's (manage_topology is off: left as they are)",
                queue=queue.name,
                attributes=sorted(changed),
            )
            return
        await self._must("sqs", "set_queue_attributes", QueueUrl=queue.url, Attributes=changed)
        queue.attributes.update(changed)
        self._log.info("updated SQS queue attributes", queue=queue.name, attributes=sorted(changed))
