"""The in-memory AMQP broker: routing, competing consumers, prefetch, requeue and dead-lettering."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tomodachi.transport.memory.amqp_broker import AmqpBroker, AmqpDelivery, ConsumerCancelled, QueueConsumer


def _broker(*queues: tuple[str, str]) -> AmqpBroker:
    """A broker with a topic exchange "ex" and the given (queue, pattern) bindings."""
    broker = AmqpBroker()
    broker.declare_exchange("ex")
    for queue, pattern in queues:
        broker.declare_queue(queue)
        broker.bind(queue, "ex", pattern)
    return broker


async def _pending(consumer: QueueConsumer) -> asyncio.Task[AmqpDelivery]:
    task = asyncio.ensure_future(consumer.get())
    await asyncio.sleep(0)
    assert not task.done()
    return task


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- topology and routing -------------------------------------------------------------------
def test_topic_routing_gives_each_matching_queue_one_copy() -> None:
    broker = _broker(("orders", "order.*"), ("orders", "#"), ("all", "#"), ("eu", "*.eu"))
    message_id, queues = broker.publish("ex", "order.created", b"{}")
    assert queues == ["orders", "all"]
    assert broker.queue_depth("orders") == 1  # two bindings matched, one copy
    assert broker.queue_depth("all") == 1
    assert broker.queue_depth("eu") == 0
    assert len(message_id) == 32 and int(message_id, 16) >= 0  # uuid4 hex


def test_unroutable_messages_are_dropped_and_unknown_exchanges_rejected() -> None:
    broker = _broker(("q", "a.b"))
    assert broker.publish("ex", "x.y", b"")[1] == []
    assert broker.queue_depth("q") == 0
    with pytest.raises(ValueError, match="no exchange"):
        broker.publish("missing", "a.b", b"")


def test_default_exchange_routes_by_queue_name_and_amq_topic_exists() -> None:
    broker = AmqpBroker()
    broker.declare_queue("q")
    assert broker.publish("", "q", b"x", message_id="m1") == ("m1", ["q"])
    assert broker.publish("", "nope", b"x")[1] == []
    broker.bind("q", "amq.topic", "a.#")
    assert broker.publish("amq.topic", "a", b"x")[1] == ["q"]
    with pytest.raises(ValueError):
        broker.bind("q", "", "q")


def test_exchange_declaration_is_idempotent_but_type_is_fixed() -> None:
    broker = AmqpBroker()
    broker.declare_exchange("ex")
    broker.declare_exchange("ex", "topic")
    with pytest.raises(ValueError, match="already exists"):
        broker.declare_exchange("ex", "fanout")
    with pytest.raises(ValueError, match="unsupported"):
        broker.declare_exchange("other", "headers")
    with pytest.raises(ValueError, match="no queue"):
        broker.bind("missing", "ex", "#")


def test_direct_and_fanout_exchanges() -> None:
    broker = AmqpBroker()
    broker.declare_exchange("direct", "direct")
    broker.declare_exchange("fanout", "fanout")
    for queue in ("a", "b"):
        broker.declare_queue(queue)
        broker.bind(queue, "direct", queue)
        broker.bind(queue, "fanout", "ignored")
    assert broker.publish("direct", "b", b"")[1] == ["b"]
    assert broker.publish("direct", "a.*", b"")[1] == []  # no wildcards on direct exchanges
    assert broker.publish("fanout", "anything", b"")[1] == ["a", "b"]


def test_unbind_and_delete_queue_stop_routing() -> None:
    broker = _broker(("q", "a.*"), ("q", "#"))
    broker.unbind("q", "ex", "#")
    broker.unbind("q", "ex", "never.bound")
    assert broker.publish("ex", "b", b"")[1] == []
    assert broker.publish("ex", "a.b", b"")[1] == ["q"]
    broker.delete_queue("q")
    assert broker.publish("ex", "a.b", b"")[1] == []
    with pytest.raises(ValueError):
        broker.queue_depth("q")


def test_redeclaring_a_queue_keeps_messages_and_updates_dead_lettering() -> None:
    broker = _broker(("q", "#"))
    broker.publish("ex", "k", b"")
    broker.declare_queue("q", dead_letter_exchange="dlx")
    assert broker.queue_depth("q") == 1


# -- consuming --------------------------------------------------------------------------------
async def test_get_returns_the_delivery_and_ack_settles_it() -> None:
    broker = _broker(("q", "order.*"))
    broker.publish("ex", "order.created", b"body", message_id="m1", headers={"h": 1})
    consumer = broker.consume("q")
    delivery = await consumer.get()
    assert (delivery.body, delivery.exchange, delivery.routing_key, delivery.queue) == (
        b"body",
        "ex",
        "order.created",
        "q",
    )
    assert (delivery.message_id, delivery.headers) == ("m1", {"h": 1})
    assert (delivery.redelivered, delivery.delivery_count) == (False, 1)
    assert (broker.queue_depth("q"), broker.unacked("q"), consumer.unacked) == (0, 1, 1)
    consumer.ack(delivery.delivery_tag)
    assert (broker.queue_depth("q"), broker.unacked("q")) == (0, 0)
    with pytest.raises(ValueError, match="unknown delivery tag"):
        consumer.ack(delivery.delivery_tag)
    with pytest.raises(ValueError, match="no queue"):
        broker.consume("missing")


async def test_get_waits_for_a_message() -> None:
    broker = _broker(("q", "#"))
    task = await _pending(broker.consume("q"))
    broker.publish("ex", "k", b"late")
    assert (await task).body == b"late"


async def test_competing_consumers_share_messages_longest_waiting_first() -> None:
    broker = _broker(("q", "#"))
    first, second = broker.consume("q"), broker.consume("q")
    assert broker.consumer_count("q") == 2
    second_task = await _pending(second)
    first_task = await _pending(first)
    broker.publish("ex", "k", b"1")
    broker.publish("ex", "k", b"2")
    assert (await second_task).body == b"1"  # second started waiting first
    assert (await first_task).body == b"2"


async def test_prefetch_limits_unacked_deliveries_per_consumer() -> None:
    broker = _broker(("q", "#"))
    for body in (b"1", b"2", b"3"):
        broker.publish("ex", "k", body)
    limited = broker.consume("q", prefetch=1)
    one = await limited.get()
    blocked = await _pending(limited)  # has a message ready, but no room
    assert broker.queue_depth("q") == 2
    other = broker.consume("q")
    assert (await other.get()).body == b"2"  # the blocked waiter does not hold up others
    limited.ack(one.delivery_tag)
    assert (await blocked).body == b"3"


async def test_nack_requeue_puts_the_message_back_at_the_head_as_redelivered() -> None:
    broker = _broker(("q", "#"))
    broker.publish("ex", "k", b"first")
    broker.publish("ex", "k", b"second")
    consumer = broker.consume("q")
    delivery = await consumer.get()
    consumer.nack(delivery.delivery_tag, requeue=True)
    again = await consumer.get()
    assert (again.body, again.redelivered, again.delivery_count) == (b"first", True, 2)
    assert again.delivery_tag != delivery.delivery_tag
    consumer.nack(again.delivery_tag, requeue=True)
    assert (await consumer.get()).delivery_count == 3


async def test_nack_without_requeue_dead_letters_to_the_dlx() -> None:
    broker = _broker(("work", "job.*"))
    broker.declare_exchange("dlx")
    broker.declare_queue("dead")
    broker.bind("dead", "dlx", "job.#")
    broker.declare_queue("work", dead_letter_exchange="dlx")
    broker.publish("ex", "job.run", b"payload", message_id="m1", headers={"a": "b"})
    consumer = broker.consume("work")
    consumer.nack((await consumer.get()).delivery_tag, requeue=False)
    assert (broker.queue_depth("work"), broker.unacked("work")) == (0, 0)
    dead = await broker.consume("dead").get()
    assert (dead.body, dead.message_id, dead.exchange, dead.routing_key) == (
        b"payload",
        "m1",
        "dlx",
        "job.run",
    )
    assert dead.headers["a"] == "b"
    assert dead.headers["x-death-reason"] == "rejected"
    assert dead.headers["x-original-queue"] == "work"
    assert dead.headers["x-delivery-count"] == 1
    assert dead.delivery_count == 1 and not dead.redelivered


async def test_dead_letter_routing_key_overrides_the_original() -> None:
    broker = _broker(("work", "#"))
    broker.declare_queue("dead")
    broker.declare_queue("work", dead_letter_exchange="", dead_letter_routing_key="dead")
    broker.publish("ex", "anything", b"x")
    consumer = broker.consume("work")
    consumer.nack((await consumer.get()).delivery_tag, requeue=False)
    assert broker.queue_depth("dead") == 1


async def test_nack_without_requeue_and_without_dlx_drops_the_message() -> None:
    broker = _broker(("q", "#"))
    broker.publish("ex", "k", b"x")
    consumer = broker.consume("q")
    consumer.nack((await consumer.get()).delivery_tag, requeue=False)
    assert (broker.queue_depth("q"), broker.unacked("q")) == (0, 0)


async def test_cancel_returns_unacked_messages_to_the_head_in_order() -> None:
    broker = _broker(("q", "#"))
    for body in (b"1", b"2", b"3"):
        broker.publish("ex", "k", body)
    consumer = broker.consume("q")
    one, two = await consumer.get(), await consumer.get()
    three = await broker.consume("q").get()
    waiting = await _pending(consumer)
    waiting.cancel()
    consumer.cancel()
    assert broker.consumer_count("q") == 1
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(ConsumerCancelled):
        await consumer.get()
    with pytest.raises(ValueError):
        consumer.ack(one.delivery_tag)
    assert (broker.queue_depth("q"), broker.unacked("q")) == (2, 1)
    fresh = broker.consume("q")
    got = [await fresh.get(), await fresh.get()]
    assert [(d.body, d.redelivered, d.delivery_count) for d in got] == [(b"1", True, 2), (b"2", True, 2)]
    assert two.body == b"2" and three.body == b"3"


async def test_cancel_fails_pending_gets_with_consumer_cancelled() -> None:
    broker = _broker(("q", "#"))
    consumer = broker.consume("q")
    task = await _pending(consumer)
    consumer.cancel()
    with pytest.raises(ConsumerCancelled):
        await task
    assert consumer.cancelled


async def test_delete_queue_cancels_its_consumers() -> None:
    broker = _broker(("q", "#"))
    task = await _pending(broker.consume("q"))
    broker.delete_queue("q")
    with pytest.raises(ConsumerCancelled):
        await task


async def test_a_get_cancelled_while_waiting_loses_no_message() -> None:
    broker = _broker(("q", "#"))
    consumer = broker.consume("q")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consumer.get(), 0.001)
    broker.publish("ex", "k", b"x")
    assert broker.queue_depth("q") == 1
    assert (await consumer.get()).delivery_count == 1


async def test_a_get_cancelled_just_as_its_message_arrives_gives_the_message_back() -> None:
    broker = _broker(("q", "#"))
    consumer = broker.consume("q", prefetch=1)
    task = await _pending(consumer)
    broker.publish("ex", "k", b"x")  # hands the message to the waiting get() ...
    task.cancel()  # ... which is cancelled before it could return it
    await _settle()
    assert task.cancelled()
    assert (broker.queue_depth("q"), broker.unacked("q"), consumer.unacked) == (1, 0, 0)
    delivery = await consumer.get()
    assert (delivery.redelivered, delivery.delivery_count) == (False, 1)


async def test_events_report_routing_requeues_and_dead_letters() -> None:
    broker = _broker(("q", "#"))
    events: list[tuple[str, dict[str, Any]]] = []
    broker.on_event.append(lambda event, details: events.append((event, details)))
    broker.publish("ex", "k", b"x", message_id="m1")
    consumer = broker.consume("q")
    consumer.nack((await consumer.get()).delivery_tag, requeue=True)
    broker.declare_queue("q", dead_letter_exchange="ex")
    broker.unbind("q", "ex", "#")
    consumer.nack((await consumer.get()).delivery_tag, requeue=False)
    assert [name for name, _ in events] == ["routed", "requeued", "dead_lettered", "routed"]
    assert events[0][1]["queues"] == ["q"] and events[0][1]["message_id"] == "m1"
    assert events[2][1] == {
        "queue": "q",
        "exchange": "ex",
        "message_id": "m1",
        "delivery_count": 2,
        "reason": "rejected",
    }


async def test_a_message_ttl_dead_letters_each_message_on_the_clock() -> None:
    from tomodachi.clock import ManualClock

    clock = ManualClock()
    broker = AmqpBroker(clock)
    broker.declare_queue("work")
    broker.declare_queue(
        "work.retry", dead_letter_exchange="", dead_letter_routing_key="work", message_ttl=5000
    )
    broker.publish("", "work.retry", b"first", message_id="m1", headers={"h": 1})
    await clock.advance(2)
    broker.publish("", "work.retry", b"second", message_id="m2")
    await clock.advance(2.9)
    assert (broker.queue_depth("work.retry"), broker.queue_depth("work")) == (2, 0)
    await clock.advance(0.2)  # m1 waited 5 s: back to "work" only, with an x-death entry
    assert (broker.queue_depth("work.retry"), broker.queue_depth("work")) == (1, 1)
    await clock.advance(2)
    consumer = broker.consume("work")
    first, second = await consumer.get(), await consumer.get()
    assert (first.body, second.body) == (b"first", b"second")
    assert first.headers["h"] == 1
    [death] = first.headers["x-death"]
    assert (death["queue"], death["reason"], death["count"]) == ("work.retry", "expired", 1)
