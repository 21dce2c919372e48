"""``app.dead_letters()`` and ``app.redrive()`` on the in-memory broker."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import DeadLetterMessage, ManualClock, run_services

FAST = tomodachi.RetryPolicy(max_attempts=2, initial_delay=0.05, jitter=False)


class Picky(tomodachi.Service):
    """Fails every message until ``healed``; failed messages go to its dead-letter queues."""

    name = "picky"
    message_envelope = JsonBase
    healed = False

    @tomodachi.aws_sns_sqs("picky-work", dead_letter_queue_name="picky-dlq", max_receive_count=5, retry=FAST)
    async def on_topic(self, data: Any) -> None:
        if not self.healed:
            raise tomodachi.RetryMessage("not yet")

    @tomodachi.amqp("picky.work", retry=FAST)
    async def on_key(self, data: Any) -> None:
        if not self.healed:
            raise tomodachi.RetryMessage("not yet")


async def test_sqs_dead_letters_are_listed_and_redriven() -> None:
    async with run_services(Picky, clock=ManualClock()) as app:
        for n in (1, 2):
            report = await (await app.publish("picky-work", {"n": n})).outcome()
            assert report.dead_lettered

        letters = await app.dead_letters("on_topic")
        assert all(isinstance(letter, DeadLetterMessage) for letter in letters)
        assert [(await letter.decoded())["data"] for letter in letters] == [{"n": 1}, {"n": 2}]
        assert letters[0].queue == "picky-dlq"
        assert len(await app.dead_letters(Picky.on_topic)) == 2  # listing leaves them there

        app[Picky].healed = True
        deliveries = await app.redrive("on_topic")
        assert len(deliveries) == 2
        for delivery in deliveries:
            assert (await delivery.outcome()).handled
        assert await app.dead_letters("on_topic") == []


async def test_amqp_dead_letters_through_the_dead_letter_exchange() -> None:
    options = {"amqp.dead_letter_exchange": "picky-dlx"}
    async with run_services(Picky, options=options) as app:
        # The exchange's queue is the user's to bind: here, one that takes every dead letter.
        app.broker.amqp.declare_queue("picky-dead")
        app.broker.amqp.bind("picky-dead", "picky-dlx", "#")
        published = await app.publish_amqp("picky.work", {"n": 3})
        assert (await published.outcome()).dead_lettered

        (letter,) = await app.dead_letters(queue="picky-dead")
        assert letter.message_id == published.message_id
        assert (await letter.decoded())["data"] == {"n": 3}
        assert "x-death" in letter.headers

        app[Picky].healed = True
        (again,) = await app.redrive("on_key", queue="picky-dead")  # to on_key's queue
        assert again.message_id == published.message_id
        report = await again.outcome()  # only what happened after the re-drive
        assert report.handled and [a.result for a in report.attempts] == ["handled"]
        assert await app.dead_letters(queue="picky-dead") == []


async def test_clear_errors_for_handlers_without_a_dead_letter_queue() -> None:
    async with run_services(Picky) as app:
        with pytest.raises(LookupError, match=r"picky\.on_key has no dead-letter queue"):
            await app.dead_letters("on_key")
        with pytest.raises(LookupError, match="no message handler 'nope'"):
            await app.dead_letters("nope")
        with pytest.raises(LookupError, match="no queue 'missing' on the in-memory broker"):
            await app.dead_letters(queue="missing")
        with pytest.raises(TypeError, match="name the handler"):
            await app.dead_letters()


async def test_amqp_dead_letter_queue_of_a_handler() -> None:
    async with run_services(Picky, options={"amqp.dead_letter_queues": True}) as app:
        published = await app.publish_amqp("picky.work", {"n": 4})
        report = await published.outcome()
        assert report.dead_lettered and [a.result for a in report.attempts] == ["retry", "dead_lettered"]

        (letter,) = await app.dead_letters("on_key")
        assert letter.queue.endswith(".dlq") and letter.message_id == published.message_id
        assert letter.headers.get("x-tomodachi-dead-letter-reason")

        (again,) = await app.redrive("on_key")  # retries afresh: the same two attempts again
        report = await again.outcome()
        assert report.dead_lettered and [a.result for a in report.attempts] == ["retry", "dead_lettered"]
        app[Picky].healed = True
        (last,) = await app.redrive("on_key")
        assert (await last.outcome()).handled
        assert await app.dead_letters("on_key") == []


async def test_a_fifo_dead_letter_queue_is_redriven_in_full_and_in_order() -> None:
    async with run_services(Picky) as app:
        sqs = app.broker.sns_sqs
        sqs.create_queue("jobs-dlq.fifo", fifo=True)
        sqs.create_queue("jobs.fifo", fifo=True)
        for n in range(15):  # more than one receive's worth, all in one message group
            sqs.send_message("jobs-dlq.fifo", str(n), group_id="g", deduplication_id=f"d{n}")
        assert len(await app.dead_letters(queue="jobs-dlq.fifo")) == 10  # SQS holds the rest back
        moved = await app.redrive(queue="jobs-dlq.fifo", to="jobs.fifo")
        assert len(moved) == 15 and await app.dead_letters(queue="jobs-dlq.fifo") == []
        received = await sqs.receive("jobs.fifo", wait_seconds=0)
        received += await sqs.receive("jobs.fifo", wait_seconds=0)  # the group is still in flight
        assert [m.body for m in received] == [str(n) for n in range(10)]
