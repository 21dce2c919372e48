"""AMQP delivery contract: the same behaviour on the in-memory broker and on RabbitMQ."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

import tomodachi
from tests.contract.contract_support import Backend, Inbox
from tomodachi.clock import get_clock
from tomodachi.envelope import JsonBase
from tomodachi.testing import ManualClock, run_services
from tomodachi.transport.amqp import AmqpProperties


def _options(backend: Backend, **extra: Any) -> dict[str, Any]:
    return {**backend.options, **extra}


async def test_handled_with_envelope_and_delivered_routing_key(amqp_backend: Backend, inbox: Inbox) -> None:
    class Orders(tomodachi.Service):
        name = "orders"
        message_envelope = JsonBase

        @tomodachi.amqp("order.*")
        async def on_order(
            self, data: Any, routing_key: str, message_uuid: str, metadata: dict[str, Any]
        ) -> None:
            inbox.add((data, routing_key, message_uuid, metadata["topic"]))

    async with run_services(
        Orders, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        await tomodachi.amqp_publish(app.service, {"id": 1}, "order.created")
        [(data, routing_key, message_uuid, topic)] = await inbox.wait_count(1)
    assert data == {"id": 1}
    assert routing_key == "order.created"  # the delivered key, not the pattern
    assert topic == "order.created"
    assert message_uuid.startswith(f"{app.service.uuid}.")


async def test_wildcards_route_like_a_topic_exchange(amqp_backend: Backend, inbox: Inbox) -> None:
    class Router(tomodachi.Service):
        name = "router"
        message_envelope = JsonBase

        @tomodachi.amqp("x.*")
        async def one_word(self, data: Any) -> None:
            inbox.add(("x.*", data))

        @tomodachi.amqp("test.#")
        async def any_words(self, data: Any) -> None:
            inbox.add(("test.#", data))

    async with run_services(
        Router, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        for key in ("x.a", "x.a.b", "test", "test.a.b.c", "other"):
            await tomodachi.amqp_publish(app.service, key, key)
        await inbox.wait_count(3)
        await inbox.stays(3, 0.3)
    assert sorted(inbox.items) == [("test.#", "test"), ("test.#", "test.a.b.c"), ("x.*", "x.a")]


async def test_raw_payload_reaches_first_positional_parameter(amqp_backend: Backend, inbox: Inbox) -> None:
    class Raw(tomodachi.Service):
        name = "raw"

        @tomodachi.amqp("raw.text")
        async def on_text(self, body: str, routing_key: str) -> None:
            inbox.add((body, routing_key))

    async with run_services(
        Raw, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        await tomodachi.amqp_publish(app.service, "plain text ✓", "raw.text")
        assert await inbox.wait_count(1) == [("plain text ✓", "raw.text")]


async def test_retry_exception_redelivers_then_handled(amqp_backend: Backend, inbox: Inbox) -> None:
    class Flaky(tomodachi.Service):
        name = "flaky"
        message_envelope = JsonBase

        @tomodachi.amqp("job.run", retry=tomodachi.RetryPolicy.immediate())
        async def run_job(self, data: Any, properties: Any) -> None:
            inbox.add((properties.redelivered, properties.delivery_count))
            if len(inbox.items) < 3:
                raise tomodachi.transport.amqp.AmqpInternalServiceError("not yet")

        @tomodachi.amqp("job.later", retry=tomodachi.RetryPolicy(initial_delay=0.05, jitter=False))
        async def run_later(self, data: Any, properties: Any) -> None:
            inbox.add(("later", properties.redelivered, properties.delivery_count))
            if len(inbox.items) < 6:
                raise tomodachi.transport.amqp.AmqpInternalServiceError("not yet")

    async with run_services(
        Flaky, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        # RetryPolicy.immediate(): the original's requeue, flagged as redelivered.
        await tomodachi.amqp_publish(app.service, {"n": 1}, "job.run")
        await inbox.wait_count(3)
        await inbox.stays(3, 0.3)
        assert inbox.items == [(False, 1), (True, 2), (True, 3)]
        # A delay: each retry is a fresh copy from the retry queue, counted all the same.
        await tomodachi.amqp_publish(app.service, {"n": 2}, "job.later")
        await inbox.wait_count(6)
        await inbox.stays(6, 0.3)
    assert inbox.items[3:] == [("later", False, 1), ("later", False, 2), ("later", False, 3)]


async def test_failures_and_bad_payloads_do_not_stop_the_consumer(
    amqp_backend: Backend, inbox: Inbox
) -> None:
    class Strict(tomodachi.Service):
        name = "strict"
        message_envelope = JsonBase

        @tomodachi.amqp("strict.in")
        async def on_message(self, data: Any) -> None:
            inbox.add(data)
            if data == "boom":
                raise RuntimeError("handler bug")

    async with run_services(
        Strict, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        await tomodachi.amqp_publish(app.service, "not json at all", "strict.in", message_envelope=None)
        await tomodachi.amqp_publish(app.service, "boom", "strict.in")
        await tomodachi.amqp_publish(app.service, "fine", "strict.in")
        await inbox.wait_count(2)
        await inbox.stays(2, 0.3)  # the failed message is not redelivered
        logs = app.logs
    assert inbox.items == ["boom", "fine"]
    events = [r["message"] for r in logs]
    assert "undecodable message" in events
    assert "uncaught exception in message handler" in events


async def test_middleware_short_circuit_still_settles(amqp_backend: Backend, inbox: Inbox) -> None:
    async def gate(func: Any, service: Any, message: Any, routing_key: str) -> None:
        inbox.add(("middleware", routing_key))
        if message["data"] != "skip":
            await func(extra=42)

    class Gated(tomodachi.Service):
        name = "gated"
        message_envelope = JsonBase
        message_middleware = [gate]

        @tomodachi.amqp("gate.in")
        async def on_message(self, data: Any, extra: int) -> None:
            inbox.add((data, extra))

    async with run_services(
        Gated, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        await tomodachi.amqp_publish(app.service, "skip", "gate.in")
        await tomodachi.amqp_publish(app.service, "pass", "gate.in")
        await inbox.wait_count(3)
        await inbox.stays(3, 0.3)  # the short-circuited message was acked, not redelivered
    assert inbox.items == [("middleware", "gate.in"), ("middleware", "gate.in"), ("pass", 42)]


async def test_dead_letter_exchange_after_max_redeliveries(
    amqp_backend: Backend, inbox: Inbox, unique: str
) -> None:
    dlx = f"dlx-{unique}"

    class Poison(tomodachi.Service):
        name = "poison"
        message_envelope = JsonBase

        @tomodachi.amqp("poison.in")
        async def on_message(self, data: Any) -> None:
            inbox.add(("attempt", data))
            raise tomodachi.RetryMessage("never works")

        @tomodachi.amqp("#", exchange_name=dlx)
        async def on_dead_letter(self, data: Any) -> None:
            inbox.add(("dead", data))

    options = _options(amqp_backend, **{"amqp.dead_letter_exchange": dlx, "amqp.max_redeliveries": 2})
    async with run_services(Poison, options=options, message_broker=amqp_backend.message_broker) as app:
        await tomodachi.amqp_publish(app.service, "x", "poison.in")
        await inbox.wait_for(lambda items: ("dead", "x") in items)
    assert inbox.items.count(("attempt", "x")) == 3  # first delivery + 2 redeliveries


async def test_publishing_unencodable_data_raises_at_the_call_site(amqp_backend: Backend) -> None:
    class Publisher(tomodachi.Service):
        name = "publisher"
        message_envelope = JsonBase

        @tomodachi.amqp("unused.key")
        async def unused(self, data: Any) -> None:
            pass

    async with run_services(
        Publisher, options=_options(amqp_backend), message_broker=amqp_backend.message_broker
    ) as app:
        import pytest

        with pytest.raises(ValueError, match="JsonBase cannot encode"):
            await tomodachi.amqp_publish(app.service, {1, 2}, "unused.key")
        with pytest.raises(TypeError, match="data must be str"):
            await tomodachi.amqp_publish(app.service, {"a": 1}, "unused.key", message_envelope=None)


@pytest.mark.timeout(150)
async def test_a_30_second_outage_is_survived_with_the_default_policy(
    amqp_backend: Backend, inbox: Inbox
) -> None:
    # The acceptance test: a payment provider down for 30 s, the default retry policy,
    # nothing lost. Real time on RabbitMQ; a ManualClock on the in-memory broker.
    clock: Any = ManualClock() if amqp_backend.message_broker == "memory" else None
    handled: list[int] = []

    class Billing(tomodachi.Service):
        name = "billing"
        message_envelope = JsonBase

        @tomodachi.amqp("invoice.due")
        async def charge(self, data: Any, properties: AmqpProperties) -> None:
            now = get_clock().monotonic()
            inbox.add((properties.delivery_count, now))
            if now - inbox.items[0][1] < 30:
                raise tomodachi.RetryMessage("payment provider down")
            handled.append(data["invoice"])

    async with run_services(
        Billing, options=_options(amqp_backend), message_broker=amqp_backend.message_broker, clock=clock
    ) as app:
        await tomodachi.amqp_publish(app.service, {"invoice": 7}, "invoice.due")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not handled and loop.time() < deadline:
            if clock is not None and not await _quiet(inbox):
                wakeup = clock.next_wakeup()
                if wakeup is not None:
                    await clock.advance_to(wakeup)
            else:
                await asyncio.sleep(0.05)
    assert handled == [7]
    counts = [count for count, _ in inbox.items]
    assert counts == list(range(1, len(counts) + 1)) and 6 <= len(counts) <= 7  # backoff, not a hot loop
    waits = [b - a for (_, a), (_, b) in itertools.pairwise(inbox.items)]
    assert all(wait >= 0.5 * 2**n * 0.8 for n, wait in enumerate(waits)), waits  # 1 s, 2 s, 4 s ... jittered


async def _quiet(inbox: Inbox) -> bool:
    """Wait briefly for a new delivery; False when none came (time may move on)."""
    before = len(inbox.items)
    try:
        await inbox.wait_for(lambda items: len(items) > before, timeout=0.05)
    except AssertionError:
        return False
    return True


async def test_a_message_that_always_fails_costs_a_bounded_number_of_deliveries(
    amqp_backend: Backend, inbox: Inbox, unique: str
) -> None:
    dlx = f"dlx-{unique}"
    policy = tomodachi.RetryPolicy(max_attempts=4, initial_delay=0.05, jitter=False)

    class Poison(tomodachi.Service):
        name = "poison"

        @tomodachi.amqp("poison.always", retry=policy)
        async def on_message(self, message: str, routing_key: str) -> None:
            inbox.add(("attempt", routing_key))
            raise tomodachi.RetryMessage("never works")

        @tomodachi.amqp("#", exchange_name=dlx)
        async def on_dead_letter(self, message: str, routing_key: str) -> None:
            inbox.add(("dead", routing_key))

    options = _options(amqp_backend, **{"amqp.dead_letter_exchange": dlx})
    async with run_services(Poison, options=options, message_broker=amqp_backend.message_broker) as app:
        await tomodachi.amqp_publish(app.service, "x", "poison.always")
        await inbox.wait_for(lambda items: any(kind == "dead" for kind, _ in items))
        await inbox.stays(5, 0.3)
    # Four deliveries with 50, 100, 200 ms between them, then the dead-letter exchange, which
    # routes it by the key it was published with (not the retry queue's).
    assert inbox.items == [("attempt", "poison.always")] * 4 + [("dead", "poison.always")]
