"""One ``@tomodachi.aws_sns_sqs`` declaration resolved against the service's options.

:func:`resolve` validates the declaration and works out the final names (prefixed, encoded,
FIFO), the dead-letter settings and the batch size once, at set-up: a :class:`SqsConsumer`.

Retries: the handler's :class:`~tomodachi.RetryPolicy` gets ``max_attempts =
min(policy.max_attempts, max_receive_count)`` where the decorator sets a redrive policy, so the
consumer's decisions and the broker's redrive agree. With ``aws_sns_sqs.dead_letter_queues``, a
handler that names no dead-letter queue gets ``<queue>-dlq`` (redrive after ``max_attempts``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.messaging.pipeline import MessageHandler, handler_for_subscription
from tomodachi.transport.aws_sns_sqs.declaration import SnsSqsSubscription
from tomodachi.transport.aws_sns_sqs.message import VALUE_NAMES
from tomodachi.transport.aws_sns_sqs.naming import (
    dead_letter_queue_name,
    queue_name,
    topic_name,
    validate_queue_name,
    validate_topic_name,
)
from tomodachi.transport.base import Handler

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["SqsConsumer", "cap_attempts", "resolve"]


@dataclass(slots=True)
class SqsConsumer:
    """One handler resolved against the service's options (names are final here)."""

    handler: Handler
    pipeline: MessageHandler
    queue: str
    """Queue name (prefixed), or an existing queue's ARN."""
    topic: str | None
    """The decorator's topic (unprefixed, unencoded), ``None`` for a queue-only handler."""
    topic_name: str | None
    """The encoded, prefixed SNS topic name (a pattern when :attr:`wildcard`)."""
    wildcard: bool
    fifo: bool
    filter_policy: Any
    """``DEFAULT`` (leave as is), ``None`` (no filter) or a dict."""
    visibility_timeout: int | None
    """``None``: leave the queue's setting."""
    dead_letter_queue: Any
    """``DEFAULT`` (leave), ``None`` (remove the redrive policy), or a prefixed name / ARN."""
    max_receive_count: int | None
    """The redrive policy's ``maxReceiveCount``; ``None`` with a dead-letter queue: leave the
    queue's redrive policy as it is (``aws_sns_sqs.dead_letter_queues`` without an attempt limit)."""
    batch_size: int

    @property
    def dead_letter_to(self) -> str | None:
        """The dead-letter queue (prefixed name or ARN) failed messages are sent to, if any."""
        dlq = self.dead_letter_queue
        return dlq if isinstance(dlq, str) else None


def resolve(service: Service, handler: Handler) -> SqsConsumer:
    """*handler*'s declaration resolved against *service*'s options (a ``ConfigurationError`` if invalid)."""
    sub = handler.args[0]
    if not isinstance(sub, SnsSqsSubscription):  # pragma: no cover - declared by aws_sns_sqs() only
        raise ConfigurationError(f"{handler.name}: not declared with @tomodachi.aws_sns_sqs")
    options = service.options.aws_sns_sqs
    where = f"@aws_sns_sqs handler {handler.name!r}"
    fifo = bool(sub.fifo)
    _check_queue_arguments(where, sub, fifo)
    pipeline = handler_for_subscription(
        service,
        handler,
        sub,
        kind="aws_sns_sqs",
        positional_key="topic",
        where=where,
        value_names=VALUE_NAMES,
    )
    dlq, max_receive = _dead_letter(where, sub, options.queue_name_prefix, fifo)
    cap_attempts(pipeline, max_receive)
    name = queue_name(
        sub.topic,
        handler.name,
        str(service.uuid),
        competing=sub.competing,
        explicit_name=sub.queue_name,
        prefix=options.queue_name_prefix,
        topic_prefix=options.topic_prefix,
        fifo=fifo,
    )
    if not name.startswith("arn:"):
        validate_queue_name(name)
        if dlq is DEFAULT and options.dead_letter_queues:
            # aws_sns_sqs.dead_letter_queues: failed messages are kept, not dropped; the
            # redrive agrees with the retry policy (and is left alone without a limit).
            dlq, max_receive = dead_letter_queue_name(name), pipeline.retry_policy.max_attempts
    encoded_topic = None
    wildcard = False
    if sub.topic is not None:
        encoded_topic = topic_name(sub.topic, options.topic_prefix, fifo=fifo)
        wildcard = "*" in sub.topic or "#" in sub.topic
        if not wildcard:
            validate_topic_name(encoded_topic)
    return SqsConsumer(
        handler=handler,
        pipeline=pipeline,
        queue=name,
        topic=sub.topic,
        topic_name=encoded_topic,
        wildcard=wildcard,
        fifo=fifo,
        filter_policy=_filter_policy(where, sub.filter_policy),
        visibility_timeout=_visibility_timeout(where, sub.visibility_timeout),
        dead_letter_queue=dlq,
        max_receive_count=max_receive,
        batch_size=_batch_size(sub.max_number_of_consumed_messages, fifo),
    )


def cap_attempts(pipeline: MessageHandler, max_receive_count: int | None) -> None:
    """Cap the handler's ``max_attempts`` at a redrive policy's *max_receive_count*: the broker
    moves a message after that many receives, so the policy must not plan more attempts."""
    policy = pipeline.retry_policy
    if max_receive_count is not None and (
        policy.max_attempts is None or max_receive_count < policy.max_attempts
    ):
        pipeline.retry_policy = policy.with_max_attempts(max_receive_count)


def _check_queue_arguments(where: str, sub: SnsSqsSubscription, fifo: bool) -> None:
    if sub.topic is None and not sub.queue_name:
        raise ConfigurationError(f"{where}: give a topic, a queue_name, or both")
    if sub.queue_name and sub.competing is False:
        raise ConfigurationError(f"{where}: a queue with a predefined queue name must be competing")
    if sub.queue_name and not sub.queue_name.startswith("arn:") and sub.queue_name.endswith(".fifo") != fifo:
        raise ConfigurationError(
            f"{where}: queue {sub.queue_name!r} is {'not ' if fifo else ''}FIFO by name, "
            f"but the handler has fifo={fifo}"
        )


def _visibility_timeout(where: str, value: int | None) -> int | None:
    """``None``/-1 leave the queue's setting; otherwise 0-43200 seconds."""
    if value in (None, -1):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 43200:
        raise ConfigurationError(f"{where}: visibility_timeout must be an integer from 0 to 43200")
    return value


def _filter_policy(where: str, value: Any) -> Any:
    """``DEFAULT`` (leave as is), ``None`` (remove), or a dict (a JSON string is parsed)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(f"{where}: filter_policy is not valid JSON") from None
    if value is not DEFAULT and value is not None and not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: filter_policy must be a dict, a JSON string or None")
    return value


def _batch_size(value: int | None, fifo: bool) -> int:
    """Messages per receive: 1-10 (anything else means 10); FIFO queues receive one at a time."""
    if fifo:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 10 else 10


def _dead_letter(where: str, sub: SnsSqsSubscription, prefix: str, fifo: bool) -> tuple[Any, int | None]:
    name, count = sub.dead_letter_queue_name, sub.max_receive_count
    count = None if count == -1 else count
    if name is DEFAULT and count is None:
        return DEFAULT, None
    if name is None and count is None:
        return None, None
    if (
        not isinstance(name, str)
        or not name
        or not isinstance(count, int)
        or isinstance(count, bool)
        or count < 1
    ):
        raise ConfigurationError(
            f"{where}: invalid values for the dead-letter queue: give dead_letter_queue_name (a name or ARN) "
            "together with max_receive_count (an integer >= 1), or dead_letter_queue_name=None to remove it"
        )
    if name.startswith("arn:"):
        return name, count
    full = prefix + name
    if fifo and not full.endswith(".fifo"):
        full += ".fifo"
    validate_queue_name(full)
    return full, count
