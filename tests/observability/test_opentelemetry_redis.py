"""A trace crossing two services over the Redis Streams queue (in memory and on a real Redis):
``redis_enqueue`` stores the trace context in the entry's ``h`` field, which stays with the message
through delays, retries, reclaims and dead letters; without instrumentation no field is written."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import tomodachi
from tests._support import wait_until
from tests.contract._backend_redis import REDIS_URL, delete_keys
from tomodachi.testing import run_services
from tomodachi.transport.redis import MemoryQueueBackend, QueueBackend, QueueKeys, RedisOptions
from tomodachi.transport.redis.memory import MemoryRedis

from .conftest import Telemetry


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, dict[str, Any]]]:
    prefix = f"tomodachi-test-otel-{uuid.uuid4().hex[:10]}:"
    options = {"redis.key_prefix": prefix, "redis.poll_interval": 0.05, "redis.claim_idle": 0.3}
    yield ("memory" if request.param == "memory" else None), options
    if request.param == "redis":
        asyncio.run(delete_keys(REDIS_URL, prefix))


async def test_a_trace_crosses_two_services_over_the_redis_queue(
    telemetry: Telemetry, broker: tuple[str | None, dict[str, Any]]
) -> None:
    from opentelemetry.trace import SpanKind

    message_broker, options = broker
    seen: list[dict[str, Any]] = []

    class Front(tomodachi.Service):
        name = "front"
        message_envelope = tomodachi.envelope.JsonBase

        @tomodachi.http("GET", r"/go")
        async def go(self) -> str:
            await tomodachi.redis_enqueue(self, {"n": 1}, "otel-go")
            return "ok"

    class Back(tomodachi.Service):
        name = "back"
        message_envelope = tomodachi.envelope.JsonBase

        @tomodachi.redis_queue("otel-go", retry=tomodachi.RetryPolicy(initial_delay=0.05, jitter=False))
        async def handle(self, data: Any, attempt: int, headers: dict[str, str]) -> None:
            seen.append(headers)
            if attempt == 1:  # the retry (through the delayed retry set) carries the context too
                raise tomodachi.RetryMessage("again")

    async with (
        run_services(Front, Back, message_broker=message_broker, options=options) as app,
        app.client(Front) as client,
    ):
        async with client.get("/go") as response:
            assert response.status == 200
        await wait_until(lambda: len(seen) == 2, within=10, what="two deliveries")
        await wait_until(
            lambda: (
                len([s for s in telemetry.spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]) == 2
            ),
            within=5,
            what="the consumer spans",
        )
    spans = telemetry.spans.get_finished_spans()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    producer = next(s for s in spans if s.kind is SpanKind.PRODUCER)
    consumers = [s for s in spans if s.kind is SpanKind.CONSUMER]
    assert producer.name == "otel-go publish"
    assert producer.attributes is not None and producer.attributes["messaging.system"] == "redis"
    assert producer.parent is not None and producer.parent.span_id == server.context.span_id
    assert all("traceparent" in headers for headers in seen)
    for consumer in consumers:
        assert consumer.name == "otel-go process"
        assert consumer.attributes is not None and consumer.attributes["messaging.system"] == "redis"
        assert consumer.context.trace_id == server.context.trace_id
        assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
        assert [link.context.span_id for link in consumer.links] == [producer.context.span_id]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[QueueBackend, QueueKeys]]:
    keys = QueueKeys.of(f"tomodachi-test-otel-{uuid.uuid4().hex[:10]}:", "jobs", "workers")
    if request.param == "memory":
        yield MemoryQueueBackend(MemoryRedis()), keys
        return
    import redis.asyncio as aioredis

    from tomodachi.transport.redis.redis_backend import RedisBackend

    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield RedisBackend(client, RedisOptions(poll_interval=0.05)), keys
    finally:
        await client.aclose()
        await delete_keys(REDIS_URL, keys.stream.partition("{")[0])


async def _read_one(backend: QueueBackend, keys: QueueKeys) -> Any:
    for _ in range(100):
        entries, _ = await backend.read(keys, "workers", "c", 1, 0.02)
        if entries:
            return entries[0]
    raise AssertionError("nothing to read")


async def test_the_headers_stay_with_the_message_through_delays_retries_reclaims_and_dead_letters(
    backend: tuple[QueueBackend, QueueKeys],
) -> None:
    queue, keys = backend
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    encoded = json.dumps(headers, separators=(",", ":"))
    await queue.ensure_group(keys, "workers")
    await queue.enqueue(keys.stream, "x", message_id="m", delay=0.05, maxlen=None, headers=headers)
    entry = await _read_one(queue, keys)  # through the queue's delayed set
    assert entry.headers == encoded
    await queue.retry(keys, "workers", entry, 0.05)  # through the group's delayed retry set
    entry = await _read_one(queue, keys)
    assert entry.stream == keys.retry and entry.headers == encoded
    await queue.retry(keys, "workers", entry, 0)  # straight into the retry stream
    entry = await _read_one(queue, keys)
    assert entry.headers == encoded
    await asyncio.sleep(0.05)
    [entry] = await queue.reclaim(keys, "workers", "other", 0.01, 1)  # left pending: reclaimed
    assert entry.headers == encoded and entry.attempt == 4
    await queue.dead_letter(keys, "workers", entry, reason="r", error="e", maxlen=None)
    if isinstance(queue, MemoryQueueBackend):
        [dead] = queue.model.streams[keys.dead].entries.values()
    else:
        from tomodachi.transport.redis.redis_backend import RedisBackend

        assert isinstance(queue, RedisBackend)
        [(_, dead)] = await queue.client.xrange(keys.dead)
    assert dead["h"] == encoded and dead["id"] == "m"


@pytest.mark.redis
async def test_without_instrumentation_no_header_field_is_written() -> None:
    import redis.asyncio as aioredis

    from tomodachi.observability import hooks

    assert hooks.active is None
    prefix = f"tomodachi-test-otel-{uuid.uuid4().hex[:10]}:"

    class Producer(tomodachi.Service):
        name = "producer"
        message_envelope = None

        @tomodachi.redis_queue("elsewhere")
        async def elsewhere(self, data: Any) -> None:
            pass

    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        options = {"redis.key_prefix": prefix}
        async with run_services(Producer, message_broker=None, options=options) as app:
            await tomodachi.redis_enqueue(app.service, "x", "plain")
        rows = await client.xrange(f"{prefix}{{plain}}")
        assert [sorted(map(str, fields or {})) for _, fields in rows or []] == [
            ["attempt", "enqueued", "id", "payload"]
        ]
    finally:
        await client.aclose()
        await delete_keys(REDIS_URL, prefix)
