"""RedeliveryCounter: delivery counts of requeued classic-queue messages, for a bounded number."""

from __future__ import annotations

from tomodachi.transport.amqp.backend import Delivery
from tomodachi.transport.amqp.redelivery import RedeliveryCounter


def _delivery(message_id: str | None, *, redelivered: bool, body: bytes = b"{}") -> Delivery:
    return Delivery(body, message_id, {}, redelivered, 1, None, None, "", "key", None)


def test_counts_requeued_messages_and_forgets_the_oldest_past_the_limit() -> None:
    counter = RedeliveryCounter(limit=3)
    for n in range(10):
        counter.requeued(_delivery(f"m{n}", redelivered=False), 1)
    assert len(counter._counts) == 3
    assert counter.count(_delivery("m9", redelivered=True)) == 2
    counter.requeued(_delivery("m9", redelivered=True), 2)
    assert counter.count(_delivery("m9", redelivered=True)) == 3
    assert counter.count(_delivery("m0", redelivered=True)) == 2  # forgotten: its 2nd delivery
    assert counter.count(_delivery("m0", redelivered=False)) == 1


def test_settled_messages_are_forgotten() -> None:
    counter = RedeliveryCounter()
    counter.requeued(_delivery(None, redelivered=False, body=b"no id"), 1)
    redelivered = _delivery(None, redelivered=True, body=b"no id")
    assert counter.count(redelivered) == 2  # known by its body
    counter.settled(redelivered)
    assert len(counter._counts) == 0
