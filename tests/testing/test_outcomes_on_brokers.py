"""``Delivery.outcome()`` and ``app.published`` on every broker: in memory, RabbitMQ and moto.

The same services run on the in-memory broker and on the real one of their family; the harness
learns what happened from the run's message observers, so the answers are the same.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import PublishedMessage, PublishedTimeout, RunningServices, run_services

#: Quick retries, so that a real broker's redeliveries take milliseconds.
FAST = tomodachi.RetryPolicy(max_attempts=3, initial_delay=0.05, jitter=False)

Run = Callable[..., contextlib.AbstractAsyncContextManager[RunningServices]]


def _fails(data: dict[str, Any], calls: Counter[str]) -> bool:
    calls[data["id"]] += 1
    return data["fail"] == "always" or (data["fail"] == "once" and calls[data["id"]] == 1)


class AmqpWorker(tomodachi.Service):
    name = "harness-amqp-worker"
    message_envelope = JsonBase
    calls: Counter[str]

    async def _start_service(self) -> None:
        self.calls = Counter()

    @tomodachi.amqp("work.do", retry=FAST)
    async def do(self, data: dict[str, Any]) -> None:
        if _fails(data, self.calls):
            raise tomodachi.RetryMessage("not yet")
        await tomodachi.amqp_publish(self, {"id": data["id"], "done": True}, "work.done")


class SnsSqsWorker(tomodachi.Service):
    name = "harness-sns-sqs-worker"
    message_envelope = JsonBase
    calls: Counter[str]

    async def _start_service(self) -> None:
        self.calls = Counter()

    @tomodachi.aws_sns_sqs(
        "work-do",
        queue_name="work-do-queue",
        dead_letter_queue_name="work-do-dlq",
        max_receive_count=10,
        retry=FAST,
    )
    async def do(self, data: dict[str, Any]) -> None:
        if _fails(data, self.calls):
            raise tomodachi.RetryMessage("not yet")
        await tomodachi.aws_sns_sqs_publish(self, {"id": data["id"], "done": True}, "work-done")


def _runner(options: dict[str, Any], message_broker: str | None) -> Run:
    @contextlib.asynccontextmanager
    async def run(*classes: type[tomodachi.Service], **kwargs: Any) -> AsyncIterator[RunningServices]:
        async with run_services(*classes, options=options, message_broker=message_broker, **kwargs) as app:
            yield app

    return run


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def amqp_run(request: pytest.FixtureRequest) -> Run:
    """``run_services`` on the in-memory broker or on RabbitMQ (with a dead-letter exchange)."""
    if request.param == "memory":
        return _runner({"amqp.dead_letter_exchange": "dlx"}, "memory")
    return _runner(request.getfixturevalue("rabbitmq_options"), None)


@pytest.fixture(params=["memory", pytest.param("aws", marks=pytest.mark.aws)])
def sns_sqs_run(request: pytest.FixtureRequest) -> Run:
    """``run_services`` on the in-memory broker or on moto."""
    if request.param == "memory":
        return _runner({}, "memory")
    return _runner(request.getfixturevalue("aws_options"), None)


def _results(report: Any) -> list[str]:
    return [attempt.result for attempt in report.attempts]


async def test_amqp_outcomes_handled_retried_dead_lettered(amqp_run: Run) -> None:
    async with amqp_run(AmqpWorker) as app:
        ok = await app.publish_amqp("work.do", {"id": "ok", "fail": "no"})
        once = await app.publish_amqp("work.do", {"id": "once", "fail": "once"})
        always = await app.publish_amqp("work.do", {"id": "always", "fail": "always"})

        report = await ok.outcome(timeout=15)
        assert report.handled and report.handler == "do" and _results(report) == ["handled"]
        assert report.attempts[0].kind == "amqp" and report.attempts[0].service == AmqpWorker.name

        report = await once.outcome(timeout=15)
        assert report.handled and report.retries == 1 and _results(report) == ["retry", "handled"]
        assert isinstance(report.attempts[0].error, tomodachi.RetryMessage)

        report = await always.outcome(timeout=15)
        assert report.dead_lettered and _results(report) == ["retry", "retry", "dead_lettered"]
        assert app[AmqpWorker].calls == Counter(ok=1, once=2, always=3)  # type: ignore[attr-defined]


async def test_amqp_published_messages_and_the_matcher(amqp_run: Run) -> None:
    async with amqp_run(AmqpWorker) as app:
        sent = await app.publish_amqp("work.do", {"id": "a", "fail": "no"})
        done = await app.wait_for_published("work.done", kind="amqp", timeout=15)
        assert isinstance(done, PublishedMessage)
        assert done.service == AmqpWorker.name and done.data == {"id": "a", "done": True}
        assert (await done.decoded())["data"] == {"id": "a", "done": True}
        # The test's own publish is recorded too, with the id the delivery is tracked by.
        (request,) = app.published_to("work.do")
        assert request.message_id == sent.message_id and request.kind == "amqp"
        # In the order the broker took them: on RabbitMQ the reply may come before its cause.
        assert sorted(m.destination for m in app.published) == ["work.do", "work.done"]


async def test_sns_sqs_outcomes_handled_retried_dead_lettered(sns_sqs_run: Run) -> None:
    async with sns_sqs_run(SnsSqsWorker) as app:
        ok = await app.publish("work-do", {"id": "ok", "fail": "no"})
        once = await app.publish("work-do", {"id": "once", "fail": "once"})
        always = await app.publish("work-do", {"id": "always", "fail": "always"})
        sent = await app.send("work-do-queue", {"id": "sent", "fail": "no"})

        report = await ok.outcome(timeout=20)
        assert report.handled and report.handler == "do" and _results(report) == ["handled"]
        assert report.attempts[0].kind == "aws_sns_sqs"
        assert ok.message_id in report.attempts[0].message_ids  # the SNS id, with the SQS id

        report = await once.outcome(timeout=20)
        assert report.handled and _results(report) == ["retry", "handled"]

        report = await always.outcome(timeout=20)
        assert report.dead_lettered and _results(report) == ["retry", "retry", "dead_lettered"]

        report = await sent.outcome(timeout=20)  # sqs_send_message: tracked by the SQS id
        assert report.handled and sent.message_id in report.attempts[0].message_ids


async def test_sns_sqs_published_messages_and_the_matcher(sns_sqs_run: Run) -> None:
    async with sns_sqs_run(SnsSqsWorker) as app:
        await app.publish("work-do", {"id": "b", "fail": "no"})
        await app.send("work-do-queue", {"id": "c", "fail": "no"})
        done = await app.wait_for_published(
            "work-done", kind="aws_sns_sqs", match=lambda m: m.data["id"] == "c", timeout=20
        )
        assert (await done.decoded())["data"] == {"id": "c", "done": True}
        (sent,) = app.published_to(kind="sqs")
        assert sent.destination == "work-do-queue" and sent.message_id
        assert (await sent.decoded())["data"] == {"id": "c", "fail": "no"}  # unwrapped from the SQS body
        await app.wait_for_published("work-done", match=lambda m: m.data["id"] == "b", timeout=20)


async def test_the_matcher_fails_listing_what_was_published() -> None:
    async with run_services(AmqpWorker) as app:
        await (await app.publish_amqp("work.do", {"id": "x", "fail": "no"})).outcome()
        with pytest.raises(PublishedTimeout) as failure:
            await app.wait_for_published("work.shipped", timeout=0.1)
        message = str(failure.value)
        assert "destination='work.shipped'" in message and "0 found" in message
        assert "amqp 'work.do' from harness-amqp-worker" in message
        assert "amqp 'work.done' from harness-amqp-worker" in message
        # A predicate that does not fit a message's data does not match it (no KeyError).
        with pytest.raises(PublishedTimeout):
            await app.wait_for_published(match=lambda m: m.data["missing"] == 1, timeout=0.05)


async def test_the_published_log_is_bounded() -> None:
    from tomodachi.messaging.observe import Published
    from tomodachi.testing.outbound import PublishedLog

    log = PublishedLog(lambda name: None, kept=3)
    for n in range(5):
        log.add(Published("amqp", "s", f"k{n}", "{}", str(n)))
    assert [record.destination for record in log.records] == ["k2", "k3", "k4"]
