"""The baseline of the AMQP benchmark: plain aio-pika code with the same semantics as the service.

- publish: the same JsonBase payloads (built by ``JsonBase.build_message``), persistent, with a
  ``message_id``, on a channel with publisher confirms, in windows of concurrent publishes;
- consume: prefetch 100, manual acknowledgement after the handler returned, the payload parsed
  by ``JsonBase.parse_message`` (the same JSON decoding) and the data passed to a handler.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aio_pika

from tomodachi.envelope import JsonBase

URL = "amqp://guest:guest@127.0.0.1:5672/"


class _Publisher:
    """Stands in for the service JsonBase reads ``name`` and ``uuid`` from."""

    name = "bench-amqp"
    uuid = str(uuid.uuid4())


async def run(messages: int, prefix: str, window: int) -> dict[str, float]:
    connection = await aio_pika.connect_robust(URL)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel(publisher_confirms=False)
        await consume_channel.set_qos(prefetch_count=100)
        queue = await consume_channel.declare_queue(
            f"{prefix}queue", durable=True, arguments={"x-expires": 600_000}
        )
        await queue.bind("amq.topic", f"{prefix}bench.message")
        exchange = await publish_channel.get_exchange("amq.topic", ensure=False)
        service = _Publisher()
        routing_key = f"{prefix}bench.message"

        async def publish(n: int) -> None:
            body = await JsonBase.build_message(
                service, "bench.message", {"n": n, "name": "bench", "ok": True}
            )
            message = aio_pika.Message(
                body.encode("utf-8"),
                message_id=uuid.uuid4().hex,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await exchange.publish(message, routing_key, mandatory=False)

        begin, cpu = time.perf_counter(), time.process_time()
        for first in range(0, messages, window):
            await asyncio.gather(*(publish(n) for n in range(first, min(first + window, messages))))
        publish_seconds = time.perf_counter() - begin
        publish_cpu = time.process_time() - cpu

        handled = 0
        done = asyncio.Event()

        async def handler(data: Any) -> None:
            nonlocal handled
            handled += 1
            if handled == messages:
                done.set()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            parsed, _message_uuid, _timestamp = await JsonBase.parse_message(message.body.decode("utf-8"))
            await handler(parsed["data"])
            await message.ack()

        begin, cpu = time.perf_counter(), time.process_time()
        tag = await queue.consume(on_message, no_ack=False)
        await done.wait()
        consume_seconds = time.perf_counter() - begin
        consume_cpu = time.process_time() - cpu
        await queue.cancel(tag)
        await consume_channel.queue_delete(queue.name)
    return {
        "publish_seconds": publish_seconds,
        "consume_seconds": consume_seconds,
        "publish_cpu": publish_cpu,
        "consume_cpu": consume_cpu,
    }
