"""Delayed retries and dead-letter queues on the real RabbitMQ: retry queues with a message TTL."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

import tomodachi
from tests._support import wait_until
from tomodachi.envelope import JsonBase
from tomodachi.transport.amqp import AmqpProperties

from ._amqp_support import Harness, amqp_options, get_messages, rabbitmqctl

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(60)]

QUICK = tomodachi.RetryPolicy(initial_delay=0.3, multiplier=1, jitter=False, max_attempts=3)


async def test_a_delayed_retry_comes_back_through_a_retry_queue(
    harness: Harness, prefix: str, json_logs: Any
) -> None:
    seen: list[tuple[float, bool, int, str]] = []
    others: list[str] = []

    class Slow(tomodachi.Service):
        name = "slow"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        @tomodachi.amqp("pay.#", retry=QUICK)
        async def pay(self, data: Any, routing_key: str, properties: AmqpProperties) -> None:
            seen.append((time.monotonic(), properties.redelivered, properties.delivery_count, routing_key))
            if len(seen) < 3:
                raise tomodachi.RetryMessage("provider down")

    class Audit(tomodachi.Service):
        name = "audit"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        @tomodachi.amqp("pay.#")
        async def audit(self, data: Any) -> None:
            others.append(data)

    container = await harness.start(Slow, Audit)
    await tomodachi.amqp_publish(container.instances[0], "invoice-1", "pay.card")
    await wait_until(lambda: len(seen) == 3, what="third delivery", within=10)
    await asyncio.sleep(0.3)
    # Each retry is a fresh copy (not a redelivery), numbered, with the original routing key.
    assert [(r, n, k) for _, r, n, k in seen] == [
        (False, 1, "pay.card"),
        (False, 2, "pay.card"),
        (False, 3, "pay.card"),
    ]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(seen)]
    assert all(gap >= 0.25 for gap in gaps), gaps  # 0.3 s rounds to the 320 ms retry queue
    assert others == ["invoice-1"]  # the retry went back to the failing handler's queue only

    queue = harness.transport(container).consumers[0].queue
    listing = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "arguments")
    line = next(x for x in listing.splitlines() if x.startswith(f"{queue}.retry.320\t"))
    assert '"x-message-ttl",320' in line and f'"x-dead-letter-routing-key","{queue}"' in line
    assert '{"x-dead-letter-exchange",[]}' in line and '"x-expires",3600320' in line

    retries = [r for r in json_logs() if r.get("message") == "message will be retried"]
    assert [(r["level"], r["attempt"], r["delay"]) for r in retries] == [
        ("warning", 1, 0.32),
        ("warning", 2, 0.32),
    ]


async def test_dead_letter_queues_keep_failed_messages_with_the_reason(
    harness: Harness, prefix: str, raw: Any, json_logs: Any
) -> None:
    class Billing(tomodachi.Service):
        name = "billing"
        options = amqp_options(prefix, dead_letter_queues=True)

        @tomodachi.amqp("bill.#", retry=QUICK.with_max_attempts(2))
        async def bill(self, message: str) -> None:
            if message == "bug":
                raise ValueError("division by zero")
            raise tomodachi.RetryMessage("still down")

    container = await harness.start(Billing)
    service = container.instances[0]
    await tomodachi.amqp_publish(service, "bug", "bill.a")
    await tomodachi.amqp_publish(service, "down", "bill.b")
    queue = harness.transport(container).consumers[0].queue
    dlq = await raw.declare_queue(f"{queue}.dlq", passive=True)
    dead = {m.body: m for m in await get_messages(dlq, 2)}
    bug, down = dead[b"bug"], dead[b"down"]
    assert bug.headers["x-tomodachi-dead-letter-reason"] == "handler failed"
    assert "division by zero" in str(bug.headers["x-tomodachi-dead-letter-error"])
    assert (bug.headers["x-tomodachi-attempts"], bug.headers["x-tomodachi-routing-key"]) == (
        1,
        f"{prefix}bill.a",
    )
    assert down.headers["x-tomodachi-dead-letter-reason"] == "retry requested; retries exhausted"
    assert (down.headers["x-tomodachi-attempts"], down.headers["x-tomodachi-routing-key"]) == (
        2,
        f"{prefix}bill.b",
    )
    assert down.headers["x-tomodachi-dead-letter-queue"] == queue
    logs = json_logs()
    moved = [r for r in logs if r.get("message") == "message dead-lettered"]
    assert {r["dead_letter_to"] for r in moved} == {f"queue {queue}.dlq"} and len(moved) == 2
    assert not any(r.get("message", "").startswith("no dead-letter destination") for r in logs)


async def test_a_handler_without_a_dead_letter_destination_is_named_at_start(
    harness: Harness, prefix: str, json_logs: Any
) -> None:
    class Careless(tomodachi.Service):
        name = "careless"
        options = amqp_options(prefix)

        @tomodachi.amqp("care.less")
        async def careless(self, message: str) -> None:
            pass

    await harness.start(Careless)
    [line] = [r for r in json_logs() if r.get("message", "").startswith("no dead-letter destination")]
    assert line["level"] == "warning" and line["handler"] == "careless"
    assert "amqp.dead_letter_queues" in line["message"]
