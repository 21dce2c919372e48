"""tomodachi.dlq on a real RabbitMQ: counts, peek leaves messages in place and in order, re-drive moves
each one only after the broker confirmed it, and errors are one line."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import pytest

import tomodachi.dlq as dlq
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.options import Options

pytestmark = pytest.mark.rabbitmq

URL = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass
class Queues:
    queue: str
    dead_letters: str
    channel: aio_pika.abc.AbstractChannel

    async def dead_letter(self, *bodies: bytes) -> None:
        """Publish *bodies* to the handler's queue and reject them: RabbitMQ dead-letters them (x-death)."""
        for index, body in enumerate(bodies):
            message = aio_pika.Message(
                body,
                message_id=f"m{index}",
                content_type="application/json",
                headers={"origin": "test", "n": index},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await self.channel.default_exchange.publish(message, routing_key=self.queue)
        queue = await self.channel.get_queue(self.queue)
        for _ in bodies:
            received = await queue.get(timeout=5)
            assert received is not None
            await received.reject(requeue=False)
        await wait_for_count(self.channel, self.dead_letters, len(bodies))

    async def drain(self, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        queue = await self.channel.get_queue(name)
        messages = []
        while (message := await queue.get(fail=False, timeout=5)) is not None:
            await message.ack()
            messages.append(message)
        return messages


async def wait_for_count(channel: aio_pika.abc.AbstractChannel, name: str, expected: int) -> None:
    for _ in range(500):
        if await count(channel, name) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} does not hold {expected} messages")


async def count(channel: aio_pika.abc.AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


@pytest.fixture
async def queues() -> AsyncIterator[Queues]:
    connection = await aio_pika.connect(URL)
    channel = await connection.channel()
    name = f"h4-dlq-test-{uuid.uuid4().hex[:8]}"
    dead = f"{name}.dlq"
    await channel.declare_queue(dead, durable=True)
    await channel.declare_queue(
        name, durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead}
    )
    try:
        yield Queues(name, dead, channel)
    finally:
        for queue_name in (name, dead):
            await channel.queue_delete(queue_name)
        await connection.close()


def target(queues: Queues, options: Options | None = None) -> dlq.DeadLetterTarget:
    route = DeadLetterRoute("orders", "on_order", "amqp", queues.queue, queues.dead_letters)
    return dlq.DeadLetterTarget(route, options or Options())


async def test_inspect_counts_the_dead_letter_queue(queues: Queues) -> None:
    await queues.dead_letter(b'{"a": 1}', b'{"a": 2}')
    [status] = await dlq.inspect(target(queues))
    assert status.messages == 2
    assert status.note == ""


async def test_peek_leaves_messages_in_order_and_reports_the_death(queues: Queues) -> None:
    bodies = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * 300) for i in range(3)]
    await queues.dead_letter(*bodies)
    first = await dlq.peek(target(queues), limit=2, body_bytes=10)
    assert [m.message_id for m in first] == ["m0", "m1"]
    assert first[0].size == len(bodies[0])
    assert first[0].body == bodies[0][:10]
    assert first[0].content_type == "application/json"
    assert first[0].headers["origin"] == "test"
    assert first[0].reason == f"rejected from queue {queues.queue!r}"
    again = await dlq.peek(target(queues), limit=10)
    assert [m.message_id for m in again] == ["m0", "m1", "m2"]
    assert await count(queues.channel, queues.dead_letters) == 3


async def test_redrive_moves_every_message_with_its_properties(queues: Queues) -> None:
    await queues.dead_letter(b"one", b"two", b"three")
    assert await dlq.redrive(target(queues), limit=2) == 2
    assert await count(queues.channel, queues.dead_letters) == 1
    assert await dlq.redrive(target(queues)) == 1
    assert await count(queues.channel, queues.dead_letters) == 0
    moved = await queues.drain(queues.queue)
    assert [m.body for m in moved] == [b"one", b"two", b"three"]
    assert [m.message_id for m in moved] == ["m0", "m1", "m2"]
    assert moved[0].content_type == "application/json"
    assert moved[0].headers["origin"] == "test"
    assert moved[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert await dlq.redrive(target(queues)) == 0


async def test_redrive_to_a_missing_queue_moves_nothing(queues: Queues) -> None:
    await queues.dead_letter(b"kept")
    route = DeadLetterRoute("orders", "on_order", "amqp", f"{queues.queue}-missing", queues.dead_letters)
    with pytest.raises(dlq.DeadLetterError, match=r"does not exist.*nothing was moved"):
        await dlq.redrive(dlq.DeadLetterTarget(route, Options()))
    assert await count(queues.channel, queues.dead_letters) == 1


async def test_missing_dead_letter_queue(queues: Queues) -> None:
    route = DeadLetterRoute("orders", "on_order", "amqp", queues.queue, f"{queues.queue}.nothing")
    missing = dlq.DeadLetterTarget(route, Options())
    [status] = await dlq.inspect(missing)
    assert status.messages is None
    assert "not found" in status.note
    with pytest.raises(dlq.DeadLetterError, match="does not exist"):
        await dlq.peek(missing)


async def test_unreachable_broker_is_one_line_without_the_password() -> None:
    options = Options()
    options["amqp.port"] = 1
    options["amqp.password"] = "s3cr3t-pw"
    route = DeadLetterRoute("orders", "on_order", "amqp", "q", "q.dlq")
    with pytest.raises(dlq.DeadLetterError) as info:
        await dlq.inspect(dlq.DeadLetterTarget(route, options))
    assert "Unable to connect [amqp] to 127.0.0.1:1" in str(info.value)
    assert "s3cr3t" not in str(info.value)


async def test_routes_that_cannot_be_inspected() -> None:
    memory = Options()
    memory["amqp.broker"] = "memory"
    routes = {
        "in-memory broker": (DeadLetterRoute("s", "a", "amqp", "q", "q.dlq"), memory),
        "dropped": (DeadLetterRoute("s", "b", "amqp", "q", None), Options()),
        "exchange": (DeadLetterRoute("s", "c", "amqp", "q", None, "dlx"), Options()),
    }
    statuses = await dlq.inspect([dlq.DeadLetterTarget(r, o) for r, o in routes.values()])
    assert [s.messages for s in statuses] == [None, None, None]
    assert [s.note for s in statuses] == [
        "in-memory broker",
        "no dead-letter queue: failed messages are dropped",
        "to exchange 'dlx'",
    ]
    for route, options in routes.values():
        with pytest.raises(dlq.DeadLetterUsageError):
            await dlq.peek(dlq.DeadLetterTarget(route, options))
        with pytest.raises(dlq.DeadLetterUsageError):
            await dlq.redrive(dlq.DeadLetterTarget(route, options))


async def test_the_transports_dead_letter_headers(queues: Queues) -> None:
    """A copy the AMQP transport dead-lettered: its headers give the reason; a re-drive drops them
    (the handler gets its retries afresh) and keeps the original exchange and routing key."""
    headers: dict[str, Any] = {
        "x-tomodachi-attempts": 3,
        "x-tomodachi-exchange": "amq.topic",
        "x-tomodachi-routing-key": "order.created",
        "x-tomodachi-dead-letter-reason": "failed 3 times",
        "x-tomodachi-dead-letter-queue": queues.queue,
        "x-tomodachi-dead-letter-error": "ValueError: boom",
    }
    message = aio_pika.Message(b"{}", message_id="copy", headers=headers)
    await queues.channel.default_exchange.publish(message, routing_key=queues.dead_letters)
    await wait_for_count(queues.channel, queues.dead_letters, 1)
    [peeked] = await dlq.peek(target(queues))
    assert peeked.reason == f"failed 3 times (queue {queues.queue!r}, after 3 attempt(s)): ValueError: boom"
    assert await dlq.redrive(target(queues)) == 1
    [moved] = await queues.drain(queues.queue)
    assert moved.headers == {"x-tomodachi-exchange": "amq.topic", "x-tomodachi-routing-key": "order.created"}


def test_header_names_match_the_transport() -> None:
    retries = pytest.importorskip("tomodachi.transport.amqp.retries")
    from tomodachi.dlq import rabbitmq

    assert rabbitmq.ATTEMPTS_HEADER == retries.ATTEMPTS_HEADER
    for name in ("REASON_HEADER", "QUEUE_HEADER", "ERROR_HEADER"):
        assert getattr(retries, name).startswith(rabbitmq.DEAD_LETTER_HEADER_PREFIX)


async def test_redrive_stops_at_the_first_refused_publish(queues: Queues) -> None:
    """The handler's queue takes one more message only (the broker nacks the next publish): the
    re-drive stops there, and the refused message and the rest stay in the dead-letter queue."""
    await queues.dead_letter(b"one", b"two", b"three")
    full = f"{queues.queue}-full"
    await queues.channel.declare_queue(full, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    route = DeadLetterRoute("orders", "on_order", "amqp", full, queues.dead_letters)
    try:
        with pytest.raises(dlq.RedriveError) as info:
            await dlq.redrive(dlq.DeadLetterTarget(route, Options()))
        assert info.value.moved == 1
        message = str(info.value)
        assert message.startswith(
            "orders.on_order: re-drive stopped after 1 message(s): publishing message 'm1'"
        )
        assert "failed (the broker refused it (a full queue with x-overflow=reject-publish?))" in message
        assert message.endswith(f"it is still in {queues.dead_letters!r}")
        assert (await count(queues.channel, full), await count(queues.channel, queues.dead_letters)) == (1, 2)
        assert [m.message_id for m in await dlq.peek(target(queues))] == ["m1", "m2"]  # in order
    finally:
        await queues.channel.queue_delete(full)
