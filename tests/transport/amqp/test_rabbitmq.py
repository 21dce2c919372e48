"""The RabbitMQ backend in-process, against the real broker: routing, settling, topology, publish."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aio_pika
import pytest

import tomodachi
from tests._support import wait_until
from tomodachi.envelope import JsonBase
from tomodachi.transport.amqp import (
    AmqpInternalServiceError,
    AmqpProperties,
    AmqpPublishError,
    AmqpTooManyConsumersException,
)
from tomodachi.transport.amqp.connection import AmqpConnection, get_connection

from ._amqp_support import Harness, amqp_options, get_messages, rabbitmqctl

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(60)]


async def test_wildcard_routing_and_injected_keywords(harness: Harness, prefix: str) -> None:
    seen: dict[str, list[tuple[Any, str, str, AmqpProperties]]] = {"star": [], "hash": []}

    class Routing(tomodachi.Service):
        name = "routing"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        @tomodachi.amqp("x.*")
        async def star(
            self, data: Any, routing_key: str, exchange_name: str, properties: AmqpProperties
        ) -> None:
            seen["star"].append((data, routing_key, exchange_name, properties))

        @tomodachi.amqp("test.#")
        async def hash(
            self, data: Any, routing_key: str, exchange_name: str, properties: AmqpProperties
        ) -> None:
            seen["hash"].append((data, routing_key, exchange_name, properties))

    container = await harness.start(Routing)
    service = container.instances[0]
    for key in ("x.a", "x.a.b", "x", "test", "test.a.b", "y.z", "test.ä"):
        await tomodachi.amqp_publish(service, key, key)
    await wait_until(lambda: len(seen["star"]) == 1 and len(seen["hash"]) == 3, what="deliveries")
    await asyncio.sleep(0.1)  # nothing else arrives

    assert [d for d, *_ in seen["star"]] == ["x.a"]
    assert sorted(d for d, *_ in seen["hash"]) == sorted(["test", "test.a.b", "test.ä"])
    # The injected routing_key is the key the message was sent with, prefix stripped and decoded.
    for data, routing_key, exchange_name, properties in seen["star"] + seen["hash"]:
        assert routing_key == data
        assert exchange_name == "amq.topic"
        assert properties.exchange == "amq.topic"
        assert properties.routing_key.startswith(prefix)
        assert properties.redelivered is False and properties.delivery_count == 1
        assert properties.message_id and len(properties.message_id) == 32
    transport = harness.transport(container)
    assert transport.ready


async def test_custom_exchange_is_declared_topic_durable(harness: Harness, prefix: str, raw: Any) -> None:
    got: list[str] = []
    exchange_name = f"{prefix}events"

    class Custom(tomodachi.Service):
        name = "custom-exchange"
        options = amqp_options(prefix, exchange_name=exchange_name)

        @tomodachi.amqp("order.*", competing=True)
        async def handler(self, message: str) -> None:
            got.append(message)

    container = await harness.start(Custom)
    await tomodachi.amqp_publish(container.instances[0], "hello", "order.created")
    await wait_until(lambda: got == ["hello"], what="delivery")
    # Passive declaration with other settings would fail: it is a durable topic exchange.
    exchange = await raw.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
    await exchange.publish(aio_pika.Message(b"raw"), f"{prefix}order.updated")
    await wait_until(lambda: got == ["hello", "raw"], what="raw delivery")


async def test_retry_is_redelivered_with_redelivered_flag(harness: Harness, prefix: str) -> None:
    attempts: list[tuple[bool, int]] = []

    class Retry(tomodachi.Service):
        name = "retry"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        @tomodachi.amqp("retry.me", retry=tomodachi.RetryPolicy.immediate())  # the original's requeue
        async def handler(self, data: Any, properties: AmqpProperties) -> None:
            attempts.append((properties.redelivered, properties.delivery_count))
            if len(attempts) == 1:
                raise AmqpInternalServiceError("try again")

    container = await harness.start(Retry)
    await tomodachi.amqp_publish(container.instances[0], {"n": 1}, "retry.me")
    await wait_until(lambda: len(attempts) == 2, what="redelivery")
    await asyncio.sleep(0.1)
    assert attempts == [(False, 1), (True, 2)]


async def test_dead_letter_exchange_and_max_redeliveries(harness: Harness, prefix: str, raw: Any) -> None:
    dlx = f"{prefix}dlx"
    deliveries: list[tuple[str, int]] = []

    class Failing(tomodachi.Service):
        name = "failing"
        options = amqp_options(prefix, dead_letter_exchange=dlx, max_redeliveries=1)

        @tomodachi.amqp("work.#")
        async def handler(self, message: str, properties: AmqpProperties) -> None:
            deliveries.append((message, properties.delivery_count))
            if message == "retry":
                raise AmqpInternalServiceError("not yet")
            if message == "reject":
                raise tomodachi.RejectMessage("never")
            if message == "fail":
                raise ValueError("boom")

    container = await harness.start(Failing)
    # Bind a dead-letter queue to the exchange the service declared.
    exchange = await raw.declare_exchange(dlx, aio_pika.ExchangeType.TOPIC, durable=True)
    dlq = await raw.declare_queue(f"{prefix}dlq", durable=True, arguments={"x-expires": 600_000})
    await dlq.bind(exchange, "#")

    service = container.instances[0]
    for body in ("retry", "reject", "fail", "ok"):
        await tomodachi.amqp_publish(service, body, "work.a")
    amq_topic = await raw.get_exchange("amq.topic")
    await amq_topic.publish(aio_pika.Message(b"\xff\xfe not utf-8"), f"{prefix}work.bytes")

    dead = await get_messages(dlq, 4)
    assert sorted(m.body for m in dead) == sorted([b"retry", b"reject", b"fail", b"\xff\xfe not utf-8"])
    for message in dead:
        assert (message.routing_key or "").startswith(f"{prefix}work.")
        assert message.headers["x-death"]  # RabbitMQ dead-lettered it
    # max_redeliveries=1: one redelivery, then dead-lettered.
    assert [c for m, c in deliveries if m == "retry"] == [1, 2]
    assert [c for m, c in deliveries if m in ("reject", "fail", "ok")] == [1, 1, 1]

    # The queue was declared durable, non-exclusive, with x-expires and the dead-letter exchange.
    queue = harness.transport(container).consumers[0].queue
    listing = rabbitmqctl(
        "list_queues", "-q", "--no-table-headers", "name", "durable", "auto_delete", "arguments"
    )
    line = next(x for x in listing.splitlines() if x.startswith(f"{queue}\t"))
    assert "\ttrue\tfalse\t" in line
    assert '"x-expires",600000' in line and f'{{"x-dead-letter-exchange","{dlx}"}}' in line


async def test_failure_without_dead_letter_exchange_is_dropped_and_logged(
    harness: Harness, prefix: str, raw: Any, json_logs: Any
) -> None:
    calls: list[str] = []

    class Dropping(tomodachi.Service):
        name = "dropping"
        options = amqp_options(prefix)

        @tomodachi.amqp("drop.me", queue_name="drops")
        async def handler(self, message: str) -> None:
            calls.append(message)
            raise ValueError("boom")

    container = await harness.start(Dropping)
    await tomodachi.amqp_publish(container.instances[0], "bad", "drop.me")
    await wait_until(lambda: bool(calls), what="delivery")
    await wait_until(
        lambda: any(r.get("message", "").startswith("message dropped") for r in json_logs()),
        what="dropped log",
    )
    await harness.stop(container)
    queue = await raw.declare_queue(f"{prefix}drops", passive=True)
    assert queue.declaration_result.message_count == 0
    assert calls == ["bad"]


async def test_middleware_short_circuit_still_acks(harness: Harness, prefix: str, raw: Any) -> None:
    calls: list[str] = []

    async def gate(func: Any, service: Any, message: Any, routing_key: str) -> None:
        calls.append(f"middleware {message}")  # returns without calling the handler

    class Gated(tomodachi.Service):
        name = "gated"
        options = amqp_options(prefix)
        message_middleware = [gate]

        @tomodachi.amqp("gate", queue_name="gated")
        async def handler(self, message: str) -> None:
            calls.append("handler")

    container = await harness.start(Gated)
    await tomodachi.amqp_publish(container.instances[0], "m1", "gate")
    await wait_until(lambda: calls == ["middleware m1"], what="middleware call")
    await harness.stop(container)  # closes the channel: an unacked message would go back
    queue = await raw.declare_queue(f"{prefix}gated", passive=True)
    assert queue.declaration_result.message_count == 0


async def test_non_competing_queue_with_a_consumer_fails_the_start(harness: Harness, prefix: str) -> None:
    class Fixed(tomodachi.Service):
        name = "fixed-uuid"
        uuid = "5d0fa0c6-1c34-4a5a-9cd0-fd2ba8e4b2c1"  # same uuid: same per-instance queue
        options = amqp_options(prefix)

        @tomodachi.amqp("solo")
        async def handler(self, message: str) -> None:
            pass

    await harness.start(Fixed)
    with pytest.raises(Exception) as info:
        await harness.start(Fixed)
    assert isinstance(info.value.__cause__, AmqpTooManyConsumersException)
    assert "already has 1 consumer(s)" in str(info.value)


async def test_one_connection_per_set_of_options(harness: Harness, prefix: str) -> None:
    def make(name: str, **extra: Any) -> type[tomodachi.Service]:
        class Svc(tomodachi.Service):
            options = amqp_options(prefix, **extra)

            @tomodachi.amqp("shared", competing=True, queue_name=name)
            async def handler(self, message: str) -> None:
                pass

        Svc.name = name
        return Svc

    first = await harness.start(make("one"), make("two"))
    second = await harness.start(make("three", heartbeat=30))
    connections: list[AmqpConnection] = []
    for service in [*first.instances, *second.instances]:
        connection = get_connection(harness.runtime, service.options)
        if not any(connection is c for c in connections):
            connections.append(connection)
    assert len(connections) == 2
    assert {c.params.heartbeat for c in connections} == {60, 30}
    assert "password" not in repr(connections[0].params)


async def test_graceful_stop_returns_unfinished_messages(
    harness: Harness, prefix: str, raw: Any, json_logs: Any
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    class Slow(tomodachi.Service):
        name = "slow"
        options = amqp_options(prefix, **{"http.termination_grace_period_seconds": 0.3})

        @tomodachi.amqp("slow", queue_name="slow")
        async def handler(self, message: str) -> None:
            if message == "stuck":
                started.set()
                await asyncio.sleep(60)
            finished.append(message)

    container = await harness.start(Slow)
    transport = harness.transport(container)
    await tomodachi.amqp_publish(container.instances[0], "stuck", "slow")
    await asyncio.wait_for(started.wait(), 10)
    begin = time.monotonic()
    await harness.stop(container)
    assert time.monotonic() - begin < 3
    assert not transport.ready
    assert any("did not finish within the grace period" in r.get("message", "") for r in json_logs())
    # The cancelled delivery went back to the queue, flagged as redelivered.
    queue = await raw.declare_queue(f"{prefix}slow", passive=True)
    [message] = await get_messages(queue, 1)
    assert message.body == b"stuck" and message.redelivered


async def test_interop_with_the_original_wire_format(harness: Harness, prefix: str, raw: Any) -> None:
    received: list[tuple[Any, str, str]] = []

    class Interop(tomodachi.Service):
        name = "interop"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        @tomodachi.amqp("interop.in")
        async def handler(self, data: Any, message_uuid: str, routing_key: str) -> None:
            received.append((data, message_uuid, routing_key))

    container = await harness.start(Interop)
    # Exactly what the original library puts on the wire: a JsonBase document, no properties.
    payload: dict[str, Any] = {
        "service": {"name": "legacy-service", "uuid": "6a1f5c1e-6e69-4f0b-8a8f-1b9d0a7f3e55"},
        "metadata": {
            "message_uuid": "6a1f5c1e-6e69-4f0b-8a8f-1b9d0a7f3e55.0e3c6f9e-8e5a-4a51-9f3b-0c1d2e3f4a5b",
            "protocol_version": "tomodachi-json-base--1.0.0",
            "compatible_protocol_versions": ["json_base-wip"],
            "timestamp": 1700000000.123456,
            "topic": "interop.in",
            "data_encoding": "raw",
        },
        "data": {"order": 4711, "items": ["a", "b"]},
    }
    amq_topic = await raw.get_exchange("amq.topic")
    await amq_topic.publish(aio_pika.Message(json.dumps(payload).encode()), f"{prefix}interop.in")
    await wait_until(lambda: len(received) == 1, what="legacy message")
    assert received == [
        ({"order": 4711, "items": ["a", "b"]}, payload["metadata"]["message_uuid"], "interop.in")
    ]

    # What we publish is a JsonBase document a consumer of the original can read.
    queue = await raw.declare_queue(f"{prefix}interop-out", arguments={"x-expires": 600_000})
    await queue.bind("amq.topic", f"{prefix}interop.out")
    service = container.instances[0]
    await tomodachi.amqp_publish(service, {"answer": 42}, "interop.out")
    [message] = await get_messages(queue, 1)
    assert message.routing_key == f"{prefix}interop.out"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id and message.content_type is None
    document = json.loads(message.body)
    assert document["data"] == {"answer": 42}
    assert document["service"] == {"name": "interop", "uuid": service.uuid}
    metadata = document["metadata"]
    assert metadata["topic"] == "interop.out"  # the unprefixed routing key, like the original
    assert metadata["protocol_version"] == "tomodachi-json-base--1.0.0"
    assert metadata["message_uuid"].startswith(f"{service.uuid}.")
    assert metadata["data_encoding"] == "raw" and isinstance(metadata["timestamp"], float)


async def test_publish_to_an_unreachable_broker_fails_within_the_timeout(harness: Harness) -> None:
    class Publisher(tomodachi.Service):
        name = "publisher"
        options = tomodachi.Options(
            **{"amqp.port": 54321, "amqp.password": "s3cret-pw!", "amqp.publish_timeout": 0.6}
        )

        async def _start_service(self) -> None:
            pass

    container = await harness.start(Publisher)
    begin = time.monotonic()
    with pytest.raises(AmqpPublishError) as info:
        await tomodachi.amqp_publish(container.instances[0], "x", "nowhere")
    assert 0.5 < time.monotonic() - begin < 3
    text = str(info.value)
    assert text.startswith("Unable to publish [amqp] to 127.0.0.1:54321 (exchange 'amq.topic'")
    assert "\n" not in text and "s3cret-pw!" not in text


async def test_queue_with_other_arguments_fails_the_start_with_one_line(
    harness: Harness, prefix: str, raw: Any
) -> None:
    await raw.declare_queue(f"{prefix}existing", durable=True, arguments={"x-expires": 123_000})

    class Changed(tomodachi.Service):
        name = "changed"
        options = amqp_options(prefix)  # x-expires 600000

        @tomodachi.amqp("changed", queue_name="existing")
        async def handler(self, message: str) -> None:
            pass

    with pytest.raises(Exception) as info:
        await harness.start(Changed)
    text = str(info.value)
    assert "\n" not in text
    assert f"cannot declare queue '{prefix}existing': PRECONDITION_FAILED" in text
    assert "inequivalent arg 'x-expires'" in text and "delete it" in text


async def test_a_consumer_the_broker_cancels_starts_again_on_a_reopened_channel(
    harness: Harness, prefix: str, raw: Any, json_logs: Any
) -> None:
    got: list[str] = []

    class Cancelled(tomodachi.Service):
        name = "cancelled"
        options = amqp_options(prefix)

        @tomodachi.amqp("cancel.me", queue_name="cancelled")
        async def handle(self, data: str) -> None:
            got.append(data)

    container = await harness.start(Cancelled)
    service = container.instances[0]
    await tomodachi.amqp_publish(service, "before", "cancel.me")
    await wait_until(lambda: got == ["before"], what="the first message")
    # Deleting the queue makes the broker cancel its consumer (basic.cancel): the channel reopens,
    # the queue and its binding are declared again and the consumer starts again.
    await raw.queue_delete(f"{prefix}cancelled")
    await wait_until(
        lambda: any(r["message"].startswith("the broker cancelled a consumer") for r in json_logs()),
        what="the cancel noticed",
    )

    async def delivered_after() -> bool:
        await tomodachi.amqp_publish(service, "after", "cancel.me")
        await asyncio.sleep(0.1)
        return "after" in got

    deadline = time.monotonic() + 10
    while not await delivered_after():  # published until the queue is back and consumed again
        assert time.monotonic() < deadline, "the consumer did not start again"
    assert harness.transport(container).ready
