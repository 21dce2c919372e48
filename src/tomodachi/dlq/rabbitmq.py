"""Dead letters on RabbitMQ (aio-pika, imported with this module): count, peek, re-drive.

The connection is the one the AMQP transport would make for the same options
(:func:`tomodachi.transport.amqp.connection.get_connection`, a resource of the caller's
:class:`~tomodachi.runtime.Runtime`), so ``amqp.host``/``port``/``login``/``password``/
``virtualhost``/``ssl`` are read exactly as a running service reads them.

- *count*: a passive queue declare (``message_count``: ready messages; the queue is not changed).
- *peek*: ``basic.get`` of up to *limit* messages, all held unacknowledged on one channel, then one
  ``basic.nack(multiple=True, requeue=True)``: RabbitMQ puts requeued messages back at their
  original position (classic queues), so the order is kept, and a crash in between returns them
  too (the channel closes). They are flagged ``redelivered``; on a quorum queue each peek counts
  as a delivery.
- *re-drive*: ``basic.get`` one message, publish a copy to the default exchange with the handler's
  queue as routing key (``mandatory``, publisher confirms), and only once the broker confirmed it,
  ``basic.ack`` it in the dead-letter queue. The copy keeps the body, the properties and the
  headers, except the transport's count of failed attempts and its ``x-tomodachi-dead-letter-*``
  headers: a re-driven message gets the handler's retries afresh. Without a limit, at most the
  messages the queue held when the re-drive began are moved (a message that fails again meanwhile
  is not moved in a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, DeliveryMode
from aiormq.exceptions import ChannelNotFoundEntity, DeliveryError, PublishError

from tomodachi.dlq.model import (
    DeadLetter,
    DeadLetterError,
    DeadLetterTarget,
    MissingQueueError,
    QueueStatus,
    RedriveError,
)
from tomodachi.transport.amqp.connection import CONNECT_TIMEOUT, AmqpConnection, get_connection
from tomodachi.transport.amqp.errors import AmqpConnectionException

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["count", "peek", "redrive"]

#: Seconds one broker operation (get, confirm, declare) may take.
OPERATION_TIMEOUT = 10.0
#: Headers the AMQP transport writes on a dead-lettered copy (``transport/amqp/retries.py``): the
#: failed attempts so far, and why it was dead-lettered. A re-driven copy goes without them.
ATTEMPTS_HEADER = "x-tomodachi-attempts"
DEAD_LETTER_HEADER_PREFIX = "x-tomodachi-dead-letter-"
_REASON, _QUEUE, _ERROR = (f"{DEAD_LETTER_HEADER_PREFIX}{name}" for name in ("reason", "queue", "error"))


async def count(runtime: Runtime, target: DeadLetterTarget, queue: str) -> QueueStatus:
    connection = await _connect(runtime, target)
    async with _channel(connection) as channel:
        declared = await _declare(connection, channel, queue)
    if declared is None:
        return QueueStatus(target, None, note="not found", exists=False)
    return QueueStatus(target, declared.message_count or 0)


async def peek(
    runtime: Runtime, target: DeadLetterTarget, queue: str, limit: int, body_bytes: int
) -> list[DeadLetter]:
    connection = await _connect(runtime, target)
    held: list[AbstractIncomingMessage] = []
    async with _channel(connection) as channel:
        existing = await _queue(connection, channel, queue)
        try:
            while len(held) < limit:
                message = await _get(connection, existing)
                if message is None:
                    break
                held.append(message)
        finally:
            if held:  # all back at once, in their places (and on a crash: the channel closes)
                with contextlib.suppress(Exception):
                    await held[-1].nack(multiple=True, requeue=True)
    return [_view(message, body_bytes) for message in held]


async def redrive(runtime: Runtime, target: DeadLetterTarget, queue: str, limit: int | None) -> int:
    connection = await _connect(runtime, target)
    destination = target.route.queue
    async with _channel(connection) as channel:
        if await _declare(connection, channel, destination) is None:
            raise MissingQueueError(
                f"{target.name}: the handler's queue {destination!r} does not exist (start the service once "
                "to declare it); nothing was moved"
            )
    moved = 0
    async with _channel(connection, confirms=True) as channel:
        source = await _queue(connection, channel, queue)
        waiting = source.declaration_result.message_count or 0
        budget = waiting if limit is None else min(limit, waiting)
        while moved < budget:
            message = await _get(connection, source, moved)
            if message is None:
                break
            what = f"message {message.message_id or message.delivery_tag!r}"
            try:
                await asyncio.wait_for(
                    channel.default_exchange.publish(_copy(message), routing_key=destination, mandatory=True),
                    OPERATION_TIMEOUT,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
                maybe = " (and may have reached the queue too)" if isinstance(exc, TimeoutError) else ""
                raise RedriveError(
                    f"{target.name}: re-drive stopped after {moved} message(s): publishing {what} to queue "
                    f"{destination!r} failed ({_reason(connection, exc)}); it is still in {queue!r}{maybe}",
                    moved,
                ) from None
            try:
                await message.ack()
            except Exception as exc:
                raise RedriveError(
                    f"{target.name}: re-drive stopped after {moved + 1} message(s): {what} was published to "
                    f"{destination!r} but not removed from {queue!r} ({_reason(connection, exc)}): it may "
                    "be in both queues",
                    moved + 1,
                ) from None
            moved += 1
    return moved


# -- helpers ---------------------------------------------------------------------------------
async def _connect(runtime: Runtime, target: DeadLetterTarget) -> AmqpConnection:
    connection = get_connection(runtime, target.options)
    try:
        await connection.connect()
    except AmqpConnectionException as exc:
        raise DeadLetterError(str(exc)) from None
    return connection


@contextlib.asynccontextmanager
async def _channel(
    connection: AmqpConnection, *, confirms: bool = False
) -> AsyncIterator[AbstractRobustChannel]:
    """A channel of its own per operation: a missing queue closes the channel it was declared on."""
    robust = await connection.connect()
    channel = robust.channel(publisher_confirms=confirms, on_return_raises=confirms)
    try:
        await channel.initialize(timeout=CONNECT_TIMEOUT)
    except Exception as exc:
        raise DeadLetterError(f"cannot open a channel [amqp] ({_reason(connection, exc)})") from None
    try:
        yield channel
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(channel.close(), CONNECT_TIMEOUT)


async def _declare(connection: AmqpConnection, channel: AbstractRobustChannel, queue: str) -> Any:
    """The passive declare-ok of *queue* (its message count), ``None`` when it does not exist."""
    try:
        declared = await channel.declare_queue(queue, passive=True, timeout=OPERATION_TIMEOUT)
    except ChannelNotFoundEntity:
        return None
    except Exception as exc:
        raise DeadLetterError(f"cannot read queue {queue!r} [amqp] ({_reason(connection, exc)})") from None
    return declared.declaration_result


async def _queue(
    connection: AmqpConnection, channel: AbstractRobustChannel, queue: str
) -> aio_pika.abc.AbstractQueue:
    try:
        return await channel.declare_queue(queue, passive=True, timeout=OPERATION_TIMEOUT)
    except ChannelNotFoundEntity:
        raise MissingQueueError(
            f"the dead-letter queue {queue!r} does not exist (no message was dead-lettered yet?)"
        ) from None
    except Exception as exc:
        raise DeadLetterError(f"cannot read queue {queue!r} [amqp] ({_reason(connection, exc)})") from None


async def _get(
    connection: AmqpConnection, queue: aio_pika.abc.AbstractQueue, moved: int | None = None
) -> AbstractIncomingMessage | None:
    try:
        return await queue.get(no_ack=False, fail=False, timeout=OPERATION_TIMEOUT)
    except Exception as exc:
        after = "" if moved is None else f" (re-drive stopped after {moved} message(s))"
        error = f"cannot get a message from {queue.name!r} [amqp] ({_reason(connection, exc)}){after}"
        raise (DeadLetterError(error) if moved is None else RedriveError(error, moved)) from None


def _reason(connection: AmqpConnection, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, PublishError):  # returned: mandatory, and no queue took it
        return "the broker returned it: the queue is gone"
    if isinstance(exc, DeliveryError):  # nacked
        return "the broker refused it (a full queue with x-overflow=reject-publish?)"
    return connection.describe(exc)


def _copy(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The message as it was published (the broker's ``expiration`` is left out, as dead-lettering does)."""
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        if key != ATTEMPTS_HEADER and not key.startswith(DEAD_LETTER_HEADER_PREFIX)
    }
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=message.delivery_mode or DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


def _view(message: AbstractIncomingMessage, body_bytes: int) -> DeadLetter:
    headers = dict(message.headers or {})
    return DeadLetter(
        message_id=message.message_id,
        size=len(message.body),
        body=bytes(message.body[:body_bytes]),
        headers=headers,
        content_type=message.content_type,
        reason=death_reason(headers),
    )


def death_reason(headers: dict[str, Any]) -> str | None:
    """Why the message was dead-lettered: the transport's headers (``<reason> (queue 'q', after 3
    attempts): <error>``), else the broker's ``x-death`` (``rejected from queue 'q' (3 times)``)."""
    if _REASON in headers:
        facts = [f"queue {_text(headers[_QUEUE])!r}"] if headers.get(_QUEUE) else []
        attempts = headers.get(ATTEMPTS_HEADER)
        if isinstance(attempts, int) and not isinstance(attempts, bool):
            facts.append(f"after {attempts} attempt(s)")
        text = _text(headers[_REASON]) + (f" ({', '.join(facts)})" if facts else "")
        return f"{text}: {_text(headers[_ERROR])}" if headers.get(_ERROR) else text
    deaths = headers.get("x-death")
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return None
    death = deaths[0]
    reason = _text(death.get("reason")) or "dead-lettered"
    text = f"{reason} from queue {_text(death.get('queue'))!r}" if death.get("queue") else reason
    times = death.get("count")
    if isinstance(times, int) and times > 1:
        text += f" ({times} times)"
    return text


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
