"""tomodachi.testing: services in-process, an HTTP client, outcomes of messages, a manual clock."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import DeliveryTimeout, ManualClock, run_services

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_sheep_example_through_the_http_client() -> None:
    sheep = _load(EXAMPLES / "sheep" / "app.py")
    async with run_services(sheep.Service) as app:
        client = app.client()
        async with client.get("/sheep") as response:
            assert (response.status, await response.text()) == (200, "0")
        async with client.post("/sheep") as response:
            assert (response.status, await response.text()) == (200, "1")


async def test_pubsub_pair_with_a_filter_policy() -> None:
    orders = _load(EXAMPLES / "pubsub" / "orders.py")
    shipping = _load(EXAMPLES / "pubsub" / "shipping.py")
    async with run_services(orders.Orders, shipping.Shipping) as app:
        async with app.client(orders.Orders).post("/orders", params={"country": "SE", "amount": "250"}) as r:
            assert r.status == 201
        delivery = await app.publish(
            "order.created", {"id": 99}, message_attributes={"country": "SE", "amount": 150}, service="orders"
        )
        report = await delivery.outcome(timeout=5)
        assert report.handled and report.handler == "ship"
        filtered = await app.publish(
            "order.created", {"id": 7}, message_attributes={"country": "US", "amount": 1}
        )
        with pytest.raises(DeliveryTimeout, match="no delivery to any handler"):
            await filtered.outcome(timeout=0.2)
        assert sorted(app[shipping.Shipping].shipped) == [1, 99]  # type: ignore[attr-defined]
        assert any(r["message"] == "shipping order" and r["order_id"] == 99 for r in app.logs)


class Flaky(tomodachi.Service):
    name = "flaky"
    message_envelope = JsonBase
    options = tomodachi.Options(aws_sns_sqs={"broker": "memory"})
    calls: list[int]

    async def _start_service(self) -> None:
        self.calls = []

    @tomodachi.aws_sns_sqs(
        "work.flaky", visibility_timeout=30, dead_letter_queue_name="flaky-dlq", max_receive_count=3
    )
    async def on_work(self, data: Any, approximate_receive_count: int) -> None:
        self.calls.append(approximate_receive_count)
        if data == "never" or approximate_receive_count < 2:
            raise tomodachi.RetryMessage("not yet")


async def test_retries_wait_for_the_retry_policy_delay_on_the_manual_clock() -> None:
    clock = ManualClock()
    async with run_services(Flaky, clock=clock) as app:
        start = clock.monotonic()
        report = await (await app.publish("work.flaky", "soon")).outcome(timeout=5)
        assert report.handled and report.retries == 1
        # Redelivered after the policy's first delay (0.5-1 s, whole seconds on SQS), not after
        # the queue's 30 s visibility timeout.
        assert 1 <= clock.monotonic() - start < 30


async def test_redrive_to_the_dead_letter_queue_is_reported() -> None:
    async with run_services(Flaky, clock=ManualClock()) as app:
        report = await (await app.publish("work.flaky", "never")).outcome(timeout=5)
        assert report.dead_lettered and report.handler == "on_work"
        # max_receive_count=3 caps the retry policy: the third delivery is the last one.
        assert report.retries == 2
        assert app[Flaky].calls == [1, 2, 3]  # type: ignore[attr-defined]


async def test_amqp_outcome_dead_lettered_after_max_redeliveries() -> None:
    class Jobs(tomodachi.Service):
        name = "jobs"
        message_envelope = JsonBase
        options = tomodachi.Options(amqp={"max_redeliveries": 1})

        @tomodachi.amqp("jobs.run")
        async def run(self, data: Any) -> None:
            raise tomodachi.transport.amqp.AmqpInternalServiceError("fail")

    async with run_services(Jobs) as app:
        report = await (await app.publish_amqp("jobs.run", {"n": 1})).outcome()
    assert report.result == "dropped"  # no dead-letter exchange configured: dropped, and logged
    assert [a.result for a in report.attempts] == ["retry", "dropped"]


async def test_delayed_send_arrives_only_when_the_clock_moves() -> None:
    received: list[str] = []

    class Inbox(tomodachi.Service):
        name = "inbox"

        @tomodachi.aws_sns_sqs(queue_name="inbox-queue")
        async def on_message(self, message: str) -> None:
            received.append(message)

    clock = ManualClock()
    async with run_services(Inbox, clock=clock) as app:
        await tomodachi.sqs_send_message(
            app.service, "later", "inbox-queue", delay_seconds=60, message_body_formatter=None
        )
        await clock.advance(59)
        assert received == []
        await clock.advance(1)
        assert received == ["later"]


async def test_schedules_follow_the_manual_clock() -> None:
    ticks: list[str] = []

    class Ticker(tomodachi.Service):
        name = "ticker"

        @tomodachi.schedule(interval="10 minutes")
        async def tick(self, invocation_time: str) -> None:
            ticks.append(invocation_time)

    async with run_services(Ticker, clock=ManualClock()) as app:
        await app.advance(30 * 60)
    assert len(ticks) == 3


async def test_publish_outside_a_run_is_a_clear_error() -> None:
    class Lonely(tomodachi.Service):
        name = "lonely"

    with pytest.raises(tomodachi.TomodachiError, match="no tomodachi run is active"):
        await tomodachi.aws_sns_sqs_publish(Lonely(), "x", "topic")


async def test_pytest_fixtures(tomodachi_services: Any, manual_clock: ManualClock) -> None:
    async with tomodachi_services(Flaky, clock=manual_clock) as app:
        report = await (await app.publish("work.flaky", "soon")).outcome()
    assert report.handled


async def test_the_broker_option_alone_selects_the_in_memory_broker() -> None:
    async with run_services(Flaky, clock=ManualClock(), message_broker=None) as app:
        report = await (await app.publish("work.flaky", "soon")).outcome()
    assert report.handled


async def test_service_readiness_follows_the_lifecycle() -> None:
    async with run_services(Flaky) as app:
        service = app.service
        assert service.ready and service.readiness == {"aws_sns_sqs": True}
    assert not service.ready


async def test_large_sns_message_arrives_intact_in_memory() -> None:
    # Above the size where the notification is encoded and unwrapped off the event loop.
    received: list[tuple[str, str, str]] = []
    text = 'é"\\\n' + "x" * (1024 * 1024)

    class Big(tomodachi.Service):
        name = "big"
        message_envelope = None  # the body as published: large on the wire

        @tomodachi.aws_sns_sqs("big.topic")
        async def on_big(self, data: str, topic: str, raw_message_body: str) -> None:
            received.append((data, topic, raw_message_body))

    async with run_services(Big) as app:
        report = await app.publish("big.topic", text)
        assert (await report.outcome(timeout=5)).handled
    [(data, topic, raw)] = received
    assert data == text and topic == "big.topic"
    notification = json.loads(raw)
    assert notification["Type"] == "Notification" and notification["Message"] == text
    assert set(notification) >= {"MessageId", "TopicArn", "Timestamp", "SignatureVersion"}
