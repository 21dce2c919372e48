"""SNS topic and SQS queue names exactly as the original library makes them.

- Topics: ``topic_prefix + topic`` (``.fifo`` appended for FIFO), then every character outside
  ``[A-Za-z0-9_*#-]`` becomes ``___<hex>_`` (``order.created`` -> ``order___2e_created``).
  Unlike the original, dotted topic names are accepted (it validated the raw name first).
- Auto queue names: ``sha256(encoded_topic + function_name + service_uuid)`` per instance,
  ``sha256(encoded_topic)`` when competing; then ``queue_name_prefix`` and ``.fifo``.
- Dead-letter queues of ``aws_sns_sqs.dead_letter_queues``: ``<queue>-dlq`` (``<base>-dlq.fifo``).
"""

from __future__ import annotations

import hashlib
import re

from tomodachi.errors import ConfigurationError

__all__ = [
    "dead_letter_queue_name",
    "decode_topic",
    "encode_topic",
    "queue_name",
    "strip_prefix",
    "topic_name",
    "validate_queue_name",
    "validate_topic_name",
    "wildcard_matcher",
]

_TOPIC_OK = re.compile(r"[A-Za-z0-9_*#-]")
_ENCODED = re.compile(r"___([0-9a-f]+)_")
_NAME_OK = re.compile(r"^[A-Za-z0-9_-]+$")
_FIFO = ".fifo"


def encode_topic(topic: str) -> str:
    body, suffix = (topic[: -len(_FIFO)], _FIFO) if topic.endswith(_FIFO) else (topic, "")
    return "".join(ch if _TOPIC_OK.match(ch) else f"___{ord(ch):x}_" for ch in body) + suffix


def decode_topic(encoded: str) -> str:
    if "___" not in encoded:
        return encoded
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), encoded)


def topic_name(topic: str, prefix: str = "", *, fifo: bool = False) -> str:
    """The encoded SNS topic name for *topic*."""
    name = prefix + topic
    if fifo and not name.endswith(_FIFO):
        name += _FIFO
    return encode_topic(name)


def strip_prefix(topic: str, prefix: str) -> str:
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def _validate(kind: str, name: str, limit: int) -> None:
    body = name[: -len(_FIFO)] if name.endswith(_FIFO) else name
    if not body or len(name) > limit or not _NAME_OK.match(body):
        raise ConfigurationError(
            f"invalid {kind} name {name!r}: at most {limit} characters from A-Z, a-z, 0-9, '-' and '_' "
            "(plus a '.fifo' suffix for FIFO)"
        )


def validate_topic_name(encoded_name: str) -> None:
    _validate("SNS topic", encoded_name, 256)


def validate_queue_name(name: str) -> None:
    _validate("SQS queue", name, 80)


def queue_name(
    topic: str | None,
    func_name: str,
    service_uuid: str,
    *,
    competing: bool | None,
    explicit_name: str | None = None,
    prefix: str = "",
    topic_prefix: str = "",
    fifo: bool = False,
) -> str:
    """The queue a handler consumes from (see the module docstring)."""
    if explicit_name:
        if explicit_name.startswith("arn:aws:sqs:"):
            return explicit_name
        name = prefix + explicit_name
    else:
        encoded = encode_topic(topic_prefix + (topic or ""))
        source = encoded if competing else encoded + func_name + service_uuid
        name = prefix + hashlib.sha256(source.encode("utf-8")).hexdigest()
    if fifo and not name.endswith(_FIFO):
        name += _FIFO
    return name


def dead_letter_queue_name(queue: str) -> str:
    """The dead-letter queue ``aws_sns_sqs.dead_letter_queues`` gives queue *queue* (a final name).

    ``<queue>-dlq``, or ``<base>-dlq.fifo`` for a FIFO queue. A name that would pass SQS's 80
    characters keeps the first characters of the queue's name and adds 8 hex digits of its
    sha256, so that it stays unique: ``<start>-<hash>-dlq``.
    """
    fifo = queue.endswith(_FIFO)
    base = queue[: -len(_FIFO)] if fifo else queue
    suffix = "-dlq" + (_FIFO if fifo else "")
    name = base + suffix
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(queue.encode("utf-8")).hexdigest()[:8]
    return f"{base[: 80 - len(suffix) - 9]}-{digest}{suffix}"


def wildcard_matcher(encoded_pattern: str) -> re.Pattern[str]:
    """A regex for topic names matching a wildcard topic (encoded, prefixed).

    ``*`` matches any characters except an encoded dot (``___2e_``), so it stays within one
    dotted segment; ``#`` matches anything.
    """
    parts: list[str] = []
    for ch in encoded_pattern:
        if ch == "*":
            parts.append(r"(?:(?!___2e_).)*")
        elif ch == "#":
            parts.append(r".*")
        else:
            parts.append(re.escape(ch))
    return re.compile("^" + "".join(parts) + "$")
