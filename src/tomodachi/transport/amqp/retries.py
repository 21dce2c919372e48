"""Delayed retries and dead-letter queues on AMQP, with the broker's own features only.

A retry after *d* seconds publishes a copy of the message (confirmed by the broker) to a retry
queue ``<queue>.retry.<ms>`` and then acks the original. The retry queue has no consumer: its
``x-message-ttl`` is *ms* and its dead-letter target is the default exchange with the handler's
queue as routing key, so after *ms* milliseconds RabbitMQ moves the message back to that queue
only (never to the other queues bound to the exchange). No plugin is needed.

- Delays are rounded to a ladder of steps of a factor √2 from 10 ms (10, 14, 20, 28, 40 ms,
  ... 1 s, 1.4 s, 2 s, ...; below 10 ms to the millisecond), so a handler uses a few retry
  queues however its delays are jittered; the rounding is within ±19 %.
- A retry queue expires (``x-expires``) one hour after it was last declared; it is declared
  again before a publish when its last declaration is half an hour old, so it outlives every
  message in it.
- Attempts: the copy carries ``x-tomodachi-attempts``, the deliveries that already failed;
  the delivery number of a message is that plus the broker's own redelivery count.
- The copy comes back with the handler's queue as its routing key; it carries the original
  exchange and routing key (``x-tomodachi-exchange``, ``x-tomodachi-routing-key``), which the
  handler is given (``routing_key``, ``properties``) and which a dead-letter exchange routes by
  (such a copy is published to it with the original key rather than rejected).
- Dead-letter queues (``amqp.dead_letter_queues``): ``<queue>.dlq``, declared without expiry;
  a dead-lettered message is published there (confirmed) with ``x-tomodachi-*`` headers saying
  why, and then acked.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomodachi.transport.amqp.backend import AmqpBackend, Delivery

__all__ = [
    "ATTEMPTS_HEADER",
    "RetryQueues",
    "bucket_ms",
    "dead_letter_queue_name",
    "failed_attempts",
    "retry_queue_name",
]

#: Header of a retried copy: how many deliveries of the message already failed.
ATTEMPTS_HEADER = "x-tomodachi-attempts"
#: Headers of a retried copy: the exchange and routing key the message was first published with.
EXCHANGE_HEADER = "x-tomodachi-exchange"
ROUTING_KEY_HEADER = "x-tomodachi-routing-key"
#: Headers of a message in a ``<queue>.dlq`` dead-letter queue.
REASON_HEADER = "x-tomodachi-dead-letter-reason"
QUEUE_HEADER = "x-tomodachi-dead-letter-queue"
ERROR_HEADER = "x-tomodachi-dead-letter-error"

#: A retry queue lives this long after its last declaration (ms) ...
RETRY_QUEUE_EXPIRES_MS = 3_600_000
#: ... and is declared again before a publish once its declaration is this old (seconds).
REDECLARE_AFTER = 1_800.0

_MAX_NAME = 255  # bytes, AMQP short string


def bucket_ms(delay: float) -> int:
    """*delay* seconds as the retry queue's TTL in ms: the nearest step of the √2 ladder from 10 ms."""
    ms = delay * 1000.0
    if ms < 10:
        return max(1, round(ms))
    step = round(2 * math.log2(ms / 10.0))
    return round(10 * 2 ** (step / 2))


def _bounded(name: str) -> str:
    if len(name.encode("utf-8")) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return name.encode("utf-8")[: _MAX_NAME - 65].decode("utf-8", "ignore") + "." + digest


def retry_queue_name(queue: str, ms: int) -> str:
    return _bounded(f"{queue}.retry.{ms}")


def dead_letter_queue_name(queue: str) -> str:
    return _bounded(f"{queue}.dlq")


def failed_attempts(delivery: Delivery) -> int:
    """Deliveries of this message that failed before this copy was published (0 for a fresh one)."""
    value = delivery.headers.get(ATTEMPTS_HEADER) if delivery.headers else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


class RetryQueues:
    """The retry queues of one transport: declared on first use, again before they could expire."""

    __slots__ = ("_declared",)

    def __init__(self) -> None:
        self._declared: dict[str, float] = {}

    async def ensure(self, backend: AmqpBackend, queue: str, ms: int, now: float) -> str:
        """The retry queue of *queue* for *ms*, declared if needed; returns its name."""
        name = retry_queue_name(queue, ms)
        declared = self._declared.get(name)
        if declared is None or now - declared >= REDECLARE_AFTER:
            await backend.declare_retry_queue(
                name, delay_ms=ms, target=queue, expires_ms=ms + RETRY_QUEUE_EXPIRES_MS
            )
            self._declared[name] = now
        return name

    def forget(self) -> None:
        """After a reconnection the queues may be gone: declare them again on next use."""
        self._declared.clear()


def origin(delivery: Delivery) -> tuple[str, str] | None:
    """The exchange and routing key a retried copy was first published with (None: not a copy)."""
    headers = delivery.headers
    if not headers or ROUTING_KEY_HEADER not in headers:
        return None
    return _text(headers.get(EXCHANGE_HEADER)), _text(headers.get(ROUTING_KEY_HEADER))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def retry_headers(delivery: Delivery, failed: int) -> dict[str, Any]:
    """The headers of the retried copy of *delivery*, *failed* deliveries having failed so far."""
    headers = {**(delivery.headers or {}), ATTEMPTS_HEADER: failed}
    if ROUTING_KEY_HEADER not in headers:
        headers[EXCHANGE_HEADER] = delivery.exchange
        headers[ROUTING_KEY_HEADER] = delivery.routing_key
    return headers


def dead_letter_headers(
    delivery: Delivery, failed: int, queue: str, reason: str, error: str | None
) -> dict[str, Any]:
    headers = {**retry_headers(delivery, failed), REASON_HEADER: reason, QUEUE_HEADER: queue}
    if error:
        headers[ERROR_HEADER] = error[:1000]
    return headers
