"""Redis stream queue contract: the same behaviour on the in-memory model and on a real Redis."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import tomodachi
from tests.contract.contract_support import Backend, Inbox
from tomodachi.clock import Clock
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services
from tomodachi.transport.redis import QueueKeys, RedisQueueTransport

FAST = tomodachi.RetryPolicy(max_attempts=3, initial_delay=0.05, jitter=False)


def _run(
    backend: Backend,
    *classes: type[tomodachi.Service],
    clock: Clock | None = None,
    options: dict[str, Any] | None = None,
) -> Any:
    return run_services(
        *classes,
        options={**backend.options, **(options or {})},
        message_broker=backend.message_broker,
        clock=clock,
    )


def _transport(service: tomodachi.Service) -> RedisQueueTransport:
    transport = tomodachi.runtime_of(service).transport(service, RedisQueueTransport)
    assert transport is not None and transport.backend is not None
    return transport


async def test_enqueued_message_reaches_its_handler_with_the_transports_keywords(
    redis_backend: Backend, inbox: Inbox
) -> None:
    class Mailer(tomodachi.Service):
        name = "mailer"
        message_envelope = JsonBase

        @tomodachi.redis_queue("emails")
        async def send(
            self, data: Any, queue: str, attempt: int, message_id: str, group: str, enqueued_at: datetime
        ) -> None:
            inbox.add((data, queue, attempt, message_id, group, enqueued_at.tzinfo is not None))

    async with _run(redis_backend, Mailer) as app:
        assert app.service.readiness == {"redis": True}
        delivery = await app.redis_enqueue("emails", {"to": "a@example.com"})
        report = await delivery.outcome(timeout=10)
        [(data, queue, attempt, message_id, group, aware)] = inbox.items
        published = await app.wait_for_published("emails", kind="redis")
    assert report.handled and report.attempts[0].delivery == 1
    assert (data, queue, attempt, group, aware) == ({"to": "a@example.com"}, "emails", 1, "mailer", True)
    assert message_id == delivery.message_id == published.message_id
    assert (await published.decoded())["data"] == {"to": "a@example.com"}


async def test_a_retry_waits_for_its_delay_then_the_last_attempt_is_dead_lettered(
    redis_backend: Backend, inbox: Inbox
) -> None:
    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @tomodachi.redis_queue("jobs", retry=FAST)
        async def run(self, data: Any, attempt: int) -> None:
            inbox.add((data, attempt))
            if data == "flaky" and attempt < 2:
                raise tomodachi.RetryMessage("not yet")
            if data == "never":
                raise tomodachi.RetryMessage("never works")

    async with _run(redis_backend, Worker) as app:
        flaky = await (await app.redis_enqueue("jobs", "flaky")).outcome(timeout=10)
        never = await (await app.redis_enqueue("jobs", "never")).outcome(timeout=10)
        transport = _transport(app.service)
        assert transport.backend is not None
        letters = await transport.backend.dead_letters(transport.consumers[0].keys)
    assert flaky.handled and flaky.retries == 1
    assert never.dead_lettered and [a.delivery for a in never.attempts] == [1, 2, 3]
    assert [(item, n) for item, n in inbox.items if item == "never"] == [
        ("never", 1),
        ("never", 2),
        ("never", 3),
    ]
    [letter] = letters
    assert letter.attempt == 3 and "retries exhausted" in letter.reason and "never works" in letter.error


async def test_bad_input_is_dead_lettered_with_a_reason_and_the_consumer_keeps_running(
    redis_backend: Backend, inbox: Inbox
) -> None:
    class Strict(tomodachi.Service):
        name = "strict"
        message_envelope = JsonBase

        @tomodachi.redis_queue("strict")
        async def on_job(self, data: Any) -> None:
            inbox.add(data)
            if data == "boom":
                raise RuntimeError("handler bug")

    async with _run(redis_backend, Strict) as app:
        # A job for another envelope (raw text), a handler failure, then a fine one.
        other = await app.redis_enqueue("strict", "not json at all", message_envelope=None)
        boom = await app.redis_enqueue("strict", "boom")
        fine = await app.redis_enqueue("strict", "fine")
        assert (await other.outcome(timeout=10)).dead_lettered
        assert (await boom.outcome(timeout=10)).dead_lettered
        assert (await fine.outcome(timeout=10)).handled
        transport = _transport(app.service)
        assert transport.backend is not None
        letters = await transport.backend.dead_letters(transport.consumers[0].keys)
        logs = app.logs
    assert inbox.items == ["boom", "fine"]
    assert sorted(letter.reason for letter in letters) == ["handler failed", "undecodable"]
    events = [record["message"] for record in logs]
    assert "undecodable message" in events and "message dead-lettered" in events


async def test_every_group_gets_every_message_and_a_group_shares_them(
    redis_backend: Backend, inbox: Inbox
) -> None:
    class Billing(tomodachi.Service):
        name = "billing"
        message_envelope = JsonBase

        @tomodachi.redis_queue("orders")
        async def on_order(self, data: Any) -> None:
            inbox.add(("billing", data))

    class ShippingA(tomodachi.Service):
        name = "shipping-a"
        message_envelope = JsonBase

        @tomodachi.redis_queue("orders", group="shipping")
        async def on_order(self, data: Any) -> None:
            inbox.add(("shipping", data))

    class ShippingB(ShippingA):
        name = "shipping-b"

    async with _run(redis_backend, Billing, ShippingA, ShippingB) as app:
        for n in range(10):
            await tomodachi.redis_enqueue(app[Billing], n, "orders")
        await inbox.wait_count(20, timeout=10)
        await inbox.stays(20, 0.3)
    assert sorted(n for who, n in inbox.items if who == "billing") == list(range(10))
    assert sorted(n for who, n in inbox.items if who == "shipping") == list(range(10))  # once per group


async def test_delayed_enqueue_is_held_until_due(redis_backend: Backend, inbox: Inbox) -> None:
    class Later(tomodachi.Service):
        name = "later"
        message_envelope = JsonBase

        @tomodachi.redis_queue("later")
        async def on_job(self, data: Any) -> None:
            inbox.add(data)

    async with _run(redis_backend, Later) as app:
        await tomodachi.redis_enqueue(
            app.service, "eta", "later", eta=datetime.now().astimezone() + timedelta(seconds=0.4)
        )
        await tomodachi.redis_enqueue(app.service, "delay", "later", delay=0.2)
        await tomodachi.redis_enqueue(app.service, "now", "later")
        await inbox.wait_count(1, timeout=5)
        assert inbox.items == ["now"]
        await inbox.wait_count(3, timeout=5)
    assert inbox.items == ["now", "delay", "eta"]


async def test_a_message_left_unacknowledged_is_reclaimed_as_another_attempt(
    redis_backend: Backend, inbox: Inbox
) -> None:
    class Reclaimer(tomodachi.Service):
        name = "reclaimer"
        message_envelope = JsonBase

        @tomodachi.redis_queue("orphans", message_envelope=None)
        async def on_job(self, data: Any, attempt: int) -> None:
            inbox.add((data, attempt))

    async with _run(redis_backend, Reclaimer, options={"redis.claim_idle": 0.3}) as app:
        transport = _transport(app.service)
        backend, keys = transport.backend, transport.consumers[0].keys
        assert backend is not None
        # A consumer that crashed: it read the message (now pending for it) and never acked it.
        await backend.enqueue(keys.stream, "x", message_id="m-1", delay=0, maxlen=None)
        entries: list[Any] = []
        while not entries and not inbox.items:
            entries, _ = await backend.read(keys, "reclaimer", "crashed-consumer", 1, 0.05)
        if entries:  # the crashed consumer got it: the live one reclaims it after claim_idle
            await inbox.wait_count(1, timeout=10)
            assert inbox.items == [("x", 2)]
        else:  # the live consumer was first: nothing to reclaim, still delivered once
            assert inbox.items == [("x", 1)]


async def test_acknowledged_entries_are_trimmed(redis_backend: Backend, inbox: Inbox) -> None:
    class Trimmed(tomodachi.Service):
        name = "trimmed"
        message_envelope = JsonBase

        @tomodachi.redis_queue("trim")
        async def on_job(self, data: Any) -> None:
            inbox.add(data)

    async with _run(redis_backend, Trimmed, options={"redis.trim_interval": 0.1}) as app:
        for n in range(5):
            await tomodachi.redis_enqueue(app.service, n, "trim")
        await inbox.wait_count(5, timeout=10)
        transport = _transport(app.service)
        backend, keys = transport.backend, transport.consumers[0].keys
        assert backend is not None
        removed = 0
        for _ in range(100):
            removed += await backend.trim(keys.stream)
            if removed >= 5:
                break
            await asyncio.sleep(0.05)
        assert await backend.trim(keys.stream) == 0
    assert removed >= 0  # the upkeep loop may have trimmed them first
    assert isinstance(keys, QueueKeys)


async def test_middleware_gets_the_queue_and_a_short_circuit_still_settles(
    redis_backend: Backend, inbox: Inbox
) -> None:
    async def gate(func: Any, service: Any, message: Any, queue: str) -> None:
        inbox.add(("middleware", queue))
        if message["data"] != "skip":
            await func(extra=42)

    class Gated(tomodachi.Service):
        name = "gated"
        message_envelope = JsonBase
        message_middleware = [gate]

        @tomodachi.redis_queue("gate")
        async def on_job(self, data: Any, extra: int) -> None:
            inbox.add((data, extra))

    async with _run(redis_backend, Gated) as app:
        skipped = await app.redis_enqueue("gate", "skip")
        passed = await app.redis_enqueue("gate", "pass")
        assert (await skipped.outcome(timeout=10)).handled
        assert (await passed.outcome(timeout=10)).handled
    assert inbox.items == [("middleware", "gate"), ("middleware", "gate"), ("pass", 42)]
