"""The baseline of the Redis queue benchmark: plain redis-py with the same semantics as the service.

- the same client settings as tomodachi's defaults (pool of 50, socket timeout 10 s);
- enqueue: the same JsonBase payloads (``JsonBase.build_message``) with a message id, ``XADD``
  with the same fields, in windows of concurrent calls on a connection pool;
- consume: a consumer group read from the oldest entry, ``XREADGROUP`` for as many entries as
  there are free slots (at most CONCURRENCY in flight), each message in its own task: decoded by
  ``JsonBase.parse_message``, the data passed to a handler, then ``XACK``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from tomodachi.envelope import JsonBase

URL = "redis://127.0.0.1:6379/0"


class _Publisher:
    """Stands in for the service JsonBase reads ``name`` and ``uuid`` from."""

    name = "bench-redis"
    uuid = str(uuid.uuid4())


async def run(messages: int, prefix: str, window: int, concurrency: int) -> dict[str, float]:
    # The client settings tomodachi uses by default (redis.* options), so that the figures compare
    # the frameworks, not two client configurations (a socket timeout costs a timer per command).
    pool = aioredis.BlockingConnectionPool.from_url(
        URL,
        max_connections=50,
        timeout=10.0,
        decode_responses=True,
        client_name="bench-plain",
        socket_timeout=10.0,
        socket_connect_timeout=5.0,
        socket_keepalive=True,
    )
    client = aioredis.Redis.from_pool(pool)
    stream, group = f"{prefix}{{bench}}", "bench"
    service = _Publisher()
    try:

        async def enqueue(n: int) -> None:
            payload = await JsonBase.build_message(service, "bench", {"n": n, "name": "bench", "ok": True})
            fields = {
                "payload": payload,
                "id": uuid.uuid4().hex,
                "attempt": "0",
                "enqueued": str(int(time.time() * 1000)),
            }
            await client.xadd(stream, fields)  # type: ignore[arg-type]

        begin, cpu = time.perf_counter(), time.process_time()
        for first in range(0, messages, window):
            await asyncio.gather(*(enqueue(n) for n in range(first, min(first + window, messages))))
        publish_seconds = time.perf_counter() - begin
        publish_cpu = time.process_time() - cpu

        await client.xgroup_create(stream, group, id="0", mkstream=True)
        handled = 0
        done = asyncio.Event()
        free = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def handler(data: Any) -> None:
            nonlocal handled
            handled += 1
            if handled == messages:
                done.set()

        async def process(stream_id: str, fields: dict[str, str]) -> None:
            try:
                parsed, _message_uuid, _timestamp = await JsonBase.parse_message(fields["payload"])
                await handler(parsed["data"])
                await client.xack(stream, group, stream_id)
            finally:
                free.release()

        async def consume() -> None:
            while not done.is_set():
                await free.acquire()
                count = 1
                while free._value > 0:  # take every free slot for one read
                    await free.acquire()
                    count += 1
                response: Any = await client.xreadgroup(group, "plain", {stream: ">"}, count=count, block=500)
                entries = response[0][1] if response else []
                for _ in range(count - len(entries)):
                    free.release()
                for stream_id, fields in entries:
                    task = asyncio.ensure_future(process(stream_id, fields))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

        begin, cpu = time.perf_counter(), time.process_time()
        reader = asyncio.ensure_future(consume())
        await done.wait()
        consume_seconds = time.perf_counter() - begin
        consume_cpu = time.process_time() - cpu
        await reader  # its last blocking read returns within 0.5 s (not cancelled mid-command)
        await asyncio.gather(*tasks)
        await client.delete(stream)
    finally:
        await client.aclose()
    return {
        "publish_seconds": publish_seconds,
        "consume_seconds": consume_seconds,
        "publish_cpu": publish_cpu,
        "consume_cpu": consume_cpu,
    }
