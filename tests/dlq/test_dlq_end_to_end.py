"""A running service dead-letters on RabbitMQ; tomodachi.dlq finds the handler's dead-letter queue from
the service class, shows why, and re-drives the message into the handler, which then gets its
retries afresh."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import tomodachi
import tomodachi.dlq as dlq
from tests._support import wait_until
from tests.dlq.test_dlq_cli import needs_routes
from tomodachi.container import ServiceContainer
from tomodachi.envelope import JsonBase
from tomodachi.runtime import Runtime

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(60), needs_routes]

ONCE = tomodachi.RetryPolicy(max_attempts=2, initial_delay=0.05, jitter=False)


async def test_dead_lettered_by_a_service_and_re_driven_into_it() -> None:
    prefix = f"h4-e2e-{uuid.uuid4().hex[:8]}-"
    attempts: list[str] = []
    failing = True

    class Billing(tomodachi.Service):
        name = "billing"
        message_envelope = JsonBase
        options = tomodachi.Options(
            **{
                "amqp.queue_name_prefix": prefix,
                "amqp.routing_key_prefix": prefix,
                "amqp.queue_ttl": 600,
                "amqp.dead_letter_queues": True,
            }
        )

        @tomodachi.amqp("invoice.#", queue_name="invoices", retry=ONCE)
        async def on_invoice(self, data: Any) -> None:
            attempts.append(data)
            if failing:
                raise tomodachi.RetryMessage("customer service down")

    runtime = Runtime()
    token = runtime.activate()
    container = ServiceContainer([Billing], runtime, source="test")
    try:
        await container.setup()
        await container.start()
        await tomodachi.amqp_publish(container.instances[0], "invoice-1", "invoice.new")
        [target] = await dlq.targets(Billing)
        assert (target.route.queue, target.route.dead_letter_queue) == (
            f"{prefix}invoices",
            f"{prefix}invoices.dlq",
        )

        async def dead_lettered() -> int:
            [status] = await dlq.inspect(target)
            return status.messages or 0

        async def wait_for_dead_letter() -> None:
            for _ in range(200):
                if await dead_lettered() == 1:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the message was not dead-lettered")

        await wait_for_dead_letter()
        assert attempts == ["invoice-1"] * 2
        [message] = await dlq.peek(target)
        assert message.reason is not None and "after 2 attempt(s)" in message.reason
        assert "customer service down" in message.reason

        # Re-driven, it gets its two attempts afresh (not one more after the two it had).
        assert await dlq.redrive(target) == 1
        await wait_for_dead_letter()
        assert attempts == ["invoice-1"] * 4

        failing = False
        assert await dlq.redrive(target) == 1
        await wait_until(lambda: len(attempts) == 5, what="the re-driven delivery")
        await asyncio.sleep(0.2)
        assert attempts == ["invoice-1"] * 5
        assert await dead_lettered() == 0
    finally:
        await container.stop()
        await runtime.aclose()
        Runtime.deactivate(token)
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            from tomodachi.transport.amqp.retries import bucket_ms, retry_queue_name

            retry_queue = retry_queue_name(f"{prefix}invoices", bucket_ms(0.05))
            for name in (f"{prefix}invoices", f"{prefix}invoices.dlq", retry_queue):
                await channel.queue_delete(name)


@pytest.mark.aws
async def test_sqs_dead_lettered_by_a_service_and_re_driven_into_it(moto_url: str) -> None:
    from tests.dlq.conftest import aws_options

    prefix = f"h4-e2e-{uuid.uuid4().hex[:8]}-"
    received: list[tuple[str, Any]] = []
    failing = True

    class Payments(tomodachi.Service):
        name = "payments"
        message_envelope = JsonBase
        options = tomodachi.Options(**aws_options(moto_url), **{"aws_sns_sqs.queue_name_prefix": prefix})

        @tomodachi.aws_sns_sqs(
            queue_name="payments", dead_letter_queue_name="payments-dlq", max_receive_count=5
        )
        async def on_payment(self, data: Any, message_attributes: Any) -> None:
            received.append((data, message_attributes.get("kind")))
            if failing:
                raise ValueError("card declined")

    runtime = Runtime()
    token = runtime.activate()
    container = ServiceContainer([Payments], runtime, source="test")
    try:
        await container.setup()
        await container.start()
        await tomodachi.sqs_send_message(
            container.instances[0], "payment-1", "payments", message_attributes={"kind": "card"}
        )
        [target] = await dlq.targets(Payments)
        assert (target.route.queue, target.route.dead_letter_queue) == (
            f"{prefix}payments",
            f"{prefix}payments-dlq",
        )

        async def dead_lettered() -> int:
            [status] = await dlq.inspect(target)
            return (status.messages or 0) + status.in_flight

        for _ in range(200):
            if await dead_lettered() == 1:
                break
            await asyncio.sleep(0.05)
        assert received == [("payment-1", "card")]
        [message] = await dlq.peek(target)
        assert message.headers["kind"] == "card"

        failing = False
        assert await dlq.redrive(target) == 1
        await wait_until(lambda: len(received) == 2, what="the re-driven delivery", within=30)
        assert received == [("payment-1", "card")] * 2
        assert await dead_lettered() == 0
    finally:
        await container.stop()
        await runtime.aclose()
        Runtime.deactivate(token)
