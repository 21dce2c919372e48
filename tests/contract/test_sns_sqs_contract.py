"""SNS+SQS delivery contract: the same behaviour on the in-memory broker and on AWS (moto)."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tests.contract.contract_support import Backend, Inbox
from tomodachi.clock import Clock, get_clock
from tomodachi.envelope import JsonBase
from tomodachi.testing import ManualClock, run_services


def _run(
    backend: Backend, *classes: type[tomodachi.Service], clock: Clock | None = None, **extra: Any
) -> Any:
    return run_services(
        *classes, options={**backend.options, **extra}, message_broker=backend.message_broker, clock=clock
    )


async def test_published_message_reaches_handler_with_its_keywords(
    sns_sqs_backend: Backend, inbox: Inbox
) -> None:
    class Orders(tomodachi.Service):
        name = "orders"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("order.created")
        async def on_order(
            self,
            data: Any,
            topic: str,
            message_attributes: dict[str, Any],
            approximate_receive_count: int,
            message_type: str,
            sns_message_id: str,
        ) -> None:
            inbox.add(
                (data, topic, message_attributes, approximate_receive_count, message_type, sns_message_id)
            )

    async with _run(sns_sqs_backend, Orders) as app:
        message_id = await tomodachi.aws_sns_sqs_publish(
            app.service,
            {"id": 1},
            "order.created",
            message_attributes={"n": 1, "s": "x", "b": True, "l": ["a"]},
        )
        [item] = await inbox.wait_count(1)
    assert item == (
        {"id": 1},
        "order.created",
        {"n": 1, "s": "x", "b": True, "l": ["a"]},
        1,
        "Notification",
        message_id,
    )


async def test_filter_policy_selects_messages(sns_sqs_backend: Backend, inbox: Inbox) -> None:
    policy = {"currency": ["SEK", "EUR"], "amount": [{"numeric": [">=", 99.51]}]}

    class Payments(tomodachi.Service):
        name = "payments"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("payment.made", filter_policy=policy)
        async def on_payment(self, data: Any) -> None:
            inbox.add(data)

    async with _run(sns_sqs_backend, Payments) as app:
        for label, attributes in (
            ("cheap", {"currency": "SEK", "amount": 10}),
            ("dollars", {"currency": "USD", "amount": 1000}),
            ("missing", {"currency": "SEK"}),
            ("match", {"currency": "EUR", "amount": 99.51}),
        ):
            await tomodachi.aws_sns_sqs_publish(
                app.service, label, "payment.made", message_attributes=attributes
            )
        await inbox.wait_count(1)
        await inbox.stays(1, 0.5)
    assert inbox.items == ["match"]


async def test_retry_leaves_message_and_receive_count_grows(sns_sqs_backend: Backend, inbox: Inbox) -> None:
    class Flaky(tomodachi.Service):
        name = "flaky"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("job.flaky", visibility_timeout=1)
        async def run_job(self, data: Any, approximate_receive_count: int) -> None:
            inbox.add(approximate_receive_count)
            if approximate_receive_count < 2:
                raise tomodachi.transport.aws_sns_sqs.AWSSNSSQSInternalServiceError("later")

    async with _run(sns_sqs_backend, Flaky) as app:
        await tomodachi.aws_sns_sqs_publish(app.service, "x", "job.flaky")
        await inbox.wait_count(2, timeout=15)
        await inbox.stays(2, 1.5)
    assert inbox.items == [1, 2]


async def test_dead_letter_queue_after_max_receive_count(
    sns_sqs_backend: Backend, inbox: Inbox, unique: str
) -> None:
    dlq = f"dlq-{unique}"

    class Poison(tomodachi.Service):
        name = "poison"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(
            "job.poison", visibility_timeout=1, dead_letter_queue_name=dlq, max_receive_count=2
        )
        async def on_job(self, data: Any) -> None:
            inbox.add(("attempt", data))
            raise tomodachi.RetryMessage("never")

        @tomodachi.aws_sns_sqs(queue_name=dlq)
        async def on_dead(self, data: Any) -> None:
            inbox.add(("dead", data))

    async with _run(sns_sqs_backend, Poison) as app:
        await tomodachi.aws_sns_sqs_publish(app.service, "p", "job.poison")
        await inbox.wait_for(lambda items: ("dead", "p") in items, timeout=20)
    assert inbox.items.count(("attempt", "p")) == 2


async def test_failed_handler_message_goes_to_its_dead_letter_queue(
    sns_sqs_backend: Backend, inbox: Inbox, unique: str
) -> None:
    dlq = f"dlq-{unique}"

    class Broken(tomodachi.Service):
        name = "broken"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("job.broken", dead_letter_queue_name=dlq, max_receive_count=5)
        async def on_job(self, data: Any) -> None:
            inbox.add(("attempt", data))
            raise ValueError("bug")

        @tomodachi.aws_sns_sqs(queue_name=dlq)
        async def on_dead(self, data: Any) -> None:
            inbox.add(("dead", data))

    async with _run(sns_sqs_backend, Broken) as app:
        await tomodachi.aws_sns_sqs_publish(app.service, "b", "job.broken")
        await inbox.wait_for(lambda items: ("dead", "b") in items, timeout=10)
    assert inbox.items == [("attempt", "b"), ("dead", "b")]


async def test_send_message_to_a_queue(sns_sqs_backend: Backend, inbox: Inbox, unique: str) -> None:
    queue = f"work-{unique}"

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(queue_name=queue)
        async def on_work(
            self, data: Any, topic: str, message_type: str, message_attributes: dict[str, Any]
        ) -> None:
            inbox.add((data, topic, message_type, message_attributes))

    async with _run(sns_sqs_backend, Worker) as app:
        await tomodachi.sqs_send_message(app.service, {"w": 1}, queue, message_attributes={"k": "v"})
        assert await inbox.wait_count(1) == [({"w": 1}, "", "Message", {"k": "v"})]


async def test_fifo_keeps_order_within_a_group(sns_sqs_backend: Backend, inbox: Inbox) -> None:
    class Ledger(tomodachi.Service):
        name = "ledger"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("ledger.entry", fifo=True, competing=True)
        async def on_entry(self, data: Any, message_group_id: str) -> None:
            inbox.add((message_group_id, data))

    async with _run(sns_sqs_backend, Ledger) as app:
        for n in range(5):
            await tomodachi.aws_sns_sqs_publish(app.service, n, "ledger.entry", group_id="a")
            await tomodachi.aws_sns_sqs_publish(app.service, n, "ledger.entry", group_id="b")
        await inbox.wait_count(10, timeout=20)
    for group in ("a", "b"):
        assert [n for g, n in inbox.items if g == group] == [0, 1, 2, 3, 4]


async def test_raw_payload_and_bad_payloads(sns_sqs_backend: Backend, inbox: Inbox) -> None:
    class Raw(tomodachi.Service):
        name = "raw"

        @tomodachi.aws_sns_sqs("raw.text")
        async def on_text(self, body: str) -> None:
            inbox.add(("raw", body))

        @tomodachi.aws_sns_sqs("json.only", message_envelope=JsonBase)
        async def on_json(self, data: Any) -> None:
            inbox.add(("json", data))

    async with _run(sns_sqs_backend, Raw) as app:
        await tomodachi.aws_sns_sqs_publish(app.service, "hello", "raw.text")
        await tomodachi.aws_sns_sqs_publish(app.service, "not an envelope", "json.only")
        await tomodachi.aws_sns_sqs_publish(app.service, "ok", "json.only", message_envelope=JsonBase)
        await inbox.wait_count(2)
        await inbox.stays(2, 0.5)
    assert sorted(inbox.items) == [("json", "ok"), ("raw", "hello")]


async def test_bad_decorator_arguments_fail_start_up_with_one_line(sns_sqs_backend: Backend) -> None:
    class Wrong(tomodachi.Service):
        name = "wrong"

        @tomodachi.aws_sns_sqs("t", dead_letter_queue_name="dlq")  # no max_receive_count
        async def on_message(self, message: str) -> None:
            pass

    with pytest.raises(tomodachi.TomodachiError, match="dead-letter queue"):
        async with _run(sns_sqs_backend, Wrong):
            pass


async def test_message_ids_and_undecodable_log_line_are_the_same_on_every_backend(
    sns_sqs_backend: Backend, inbox: Inbox
) -> None:
    class Ids(tomodachi.Service):
        name = "ids"

        @tomodachi.aws_sns_sqs("ids.raw")
        async def on_raw(self, body: str, sns_message_id: str, sqs_message_id: str) -> None:
            inbox.add((body, sns_message_id, sqs_message_id))

        @tomodachi.aws_sns_sqs("ids.json", message_envelope=JsonBase)
        async def on_json(self, data: Any) -> None:
            inbox.add(("json", data))

    async with _run(sns_sqs_backend, Ids) as app:
        sns_id = await tomodachi.aws_sns_sqs_publish(app.service, "hello", "ids.raw")
        bad_id = await tomodachi.aws_sns_sqs_publish(app.service, "not an envelope", "ids.json")
        [(body, sns_message_id, sqs_message_id)] = await inbox.wait_count(1)
        await inbox.stays(1, 0.5)
        logs = app.logs
    # The injected SQS message id is the id of the queue's copy, never the SNS id.
    assert (body, sns_message_id) == ("hello", sns_id)
    assert sqs_message_id and sqs_message_id != sns_id
    undecodable = [r for r in logs if r.get("message") == "undecodable message"]
    assert len(undecodable) == 1, undecodable
    assert undecodable[0]["message_id"] not in ("", bad_id)  # the SQS message id, as for every log line
    assert undecodable[0]["handler"] == "on_json"


#: How long the dependency of the handler below is down.
OUTAGE_SECONDS = 30.0


@pytest.mark.timeout(110)
async def test_a_transient_failure_of_30_seconds_is_survived_with_the_default_policy(
    sns_sqs_backend: Backend,
) -> None:
    """The acceptance test of retries as a policy (issue 13): a dependency is down for 30 s from
    the first attempt; with the default policy (10 attempts, 1 s doubling, jitter) every message
    is handled once it is back, none is lost or dead-lettered.

    In memory on a ManualClock this takes milliseconds; on AWS (moto) it runs in real time: the
    jittered delays put the success between 30 and about 62 s after the first attempt
    (about 45 s on average).
    """
    memory = sns_sqs_backend.name == "memory"
    attempts: dict[str, list[int]] = {}
    handled: dict[str, float] = {}
    outage: dict[str, float] = {}

    class Orders(tomodachi.Service):
        name = "orders"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("order.placed", competing=True)
        async def on_order(self, data: str, approximate_receive_count: int) -> None:
            now = get_clock().monotonic()
            ends = outage.setdefault("ends", now + OUTAGE_SECONDS)
            attempts.setdefault(data, []).append(approximate_receive_count)
            if now < ends:
                raise tomodachi.RetryMessage("the payment service is down")
            handled[data] = now

    async with _run(sns_sqs_backend, Orders, clock=ManualClock() if memory else None) as app:
        # Several messages in memory; one on AWS, where each jittered schedule takes real time.
        names = ["a", "b", "c"] if memory else ["a"]
        deliveries = [await app.publish("order.placed", name) for name in names]
        reports = [await delivery.outcome(timeout=10 if memory else 100) for delivery in deliveries]
    assert [report.result for report in reports] == ["handled"] * len(names)
    assert sorted(handled) == names
    for name, counts in attempts.items():
        assert counts == list(range(1, len(counts) + 1)), (name, counts)  # attempt numbers from SQS
        assert 2 <= len(counts) <= 10, (name, counts)  # within the default max_attempts
        assert handled[name] >= outage["ends"]
    assert [report.retries for report in reports] == [len(attempts[name]) - 1 for name in names]
