"""Retries as a declared policy on SNS+SQS, on the in-memory broker and a ManualClock (fast).

The consumer is the production one; the broker is the in-memory SQS model, whose visibility
timeouts run on the run's clock. ``Delivery.outcome()`` moves the ManualClock on while nothing
happens, so a retry five minutes away costs milliseconds.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import tomodachi
from tomodachi.clock import get_clock
from tomodachi.container import ServiceContainer
from tomodachi.envelope import JsonBase
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.observe import Settled, observers_of
from tomodachi.runtime import Runtime
from tomodachi.testing import ManualClock, run_services
from tomodachi.transport.aws_sns_sqs import AWSSNSSQSTransport
from tomodachi.transport.aws_sns_sqs.naming import dead_letter_queue_name

#: A policy without jitter, so the delays between deliveries are exact.
STEPS = tomodachi.RetryPolicy(max_attempts=5, initial_delay=10, multiplier=3, max_delay=60, jitter=False)


def _deliveries(service: Any) -> list[tuple[int, float]]:
    calls: list[tuple[int, float]] = service.calls
    return calls


async def test_retries_follow_the_policy_through_visibility_timeouts() -> None:
    class Steps(tomodachi.Service):
        name = "steps"
        message_envelope = JsonBase
        calls: list[tuple[int, float]]

        async def _start_service(self) -> None:
            self.calls = []

        @tomodachi.aws_sns_sqs("steps.run", visibility_timeout=30, retry=STEPS)
        async def on_step(self, data: Any, approximate_receive_count: int) -> None:
            self.calls.append((approximate_receive_count, get_clock().monotonic()))
            raise tomodachi.RetryMessage("not yet")

    events: list[Settled] = []
    clock = ManualClock()
    async with run_services(Steps, clock=clock) as app:
        observers_of(app.runtime).settled.append(events.append)
        report = await (await app.publish("steps.run", "go")).outcome(timeout=10)
        calls = _deliveries(app[Steps])
        logs = app.logs
    assert report.result == "dropped"  # no dead-letter queue: dropped after the fifth attempt
    assert [count for count, _ in calls] == [1, 2, 3, 4, 5]
    times = [at for _, at in calls]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert gaps == [10, 30, 60, 60]  # 10 s x3, capped at 60 s: not the queue's 30 s timeout
    assert [(e.attempt, e.result, e.delay) for e in events] == [
        (1, "retry", 10.0),
        (2, "retry", 30.0),
        (3, "retry", 60.0),
        (4, "retry", 60.0),
        (5, "dropped", None),
    ]
    retried = [r for r in logs if r["message"] == "message will be retried"]
    assert [(r["level"], r["attempt"], r["delay"]) for r in retried] == [
        ("warning", 1, 10),
        ("warning", 2, 30),
        ("warning", 3, 60),
        ("warning", 4, 60),
    ]
    dropped = [r for r in logs if r["message"].startswith("message dropped")]
    assert [(r["level"], r["attempt"], r["handler"]) for r in dropped] == [("error", 5, "on_step")]


async def test_a_retry_five_minutes_away_takes_no_real_time() -> None:
    class Later(tomodachi.Service):
        name = "later"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(
            "later.run",
            retry=tomodachi.RetryPolicy(initial_delay=300, max_delay=300, jitter=False),
        )
        async def on_later(self, data: Any, approximate_receive_count: int) -> None:
            if approximate_receive_count < 2:
                raise tomodachi.RetryMessage("in five minutes")

    clock = ManualClock()
    async with run_services(Later, clock=clock) as app:
        report = await (await app.publish("later.run", 1)).outcome(timeout=3)
    assert report.handled and report.retries == 1
    assert 300 <= clock.monotonic() < 330


async def test_the_visibility_extension_does_not_undo_a_retry_delay() -> None:
    class Slow(tomodachi.Service):
        name = "slow"
        message_envelope = JsonBase
        calls: list[tuple[int, float]]

        async def _start_service(self) -> None:
            self.calls = []

        @tomodachi.aws_sns_sqs(
            "slow.run",
            visibility_timeout=4,
            retry=tomodachi.RetryPolicy(initial_delay=120, max_delay=120, jitter=False),
        )
        async def on_slow(self, data: Any, approximate_receive_count: int) -> None:
            self.calls.append((approximate_receive_count, get_clock().monotonic()))
            if approximate_receive_count < 2:
                await get_clock().sleep(9)  # the extension runs (every 2 s) while the handler works
                raise tomodachi.RetryMessage("after a long try")

    async with run_services(Slow, clock=ManualClock()) as app:
        report = await (await app.publish("slow.run", 1)).outcome(timeout=5)
        calls = _deliveries(app[Slow])
    assert report.handled
    (first, started), (second, again) = calls
    assert (first, second) == (1, 2)  # extended in time: no second delivery while it ran
    assert again - started >= 9 + 120  # the retry delay counts from the end of the attempt


async def test_a_message_that_always_fails_ends_in_the_dead_letter_queue_after_max_attempts() -> None:
    class Poison(tomodachi.Service):
        name = "poison"
        message_envelope = JsonBase
        calls: list[tuple[int, float]]
        dead: list[Any]

        async def _start_service(self) -> None:
            self.calls, self.dead = [], []

        @tomodachi.aws_sns_sqs(
            "poison.run",
            dead_letter_queue_name="poison-dlq",
            max_receive_count=50,
            retry=tomodachi.RetryPolicy(max_attempts=4),
        )
        async def on_poison(self, data: Any, approximate_receive_count: int) -> None:
            self.calls.append((approximate_receive_count, get_clock().monotonic()))
            raise tomodachi.RetryMessage("never")

        @tomodachi.aws_sns_sqs(queue_name="poison-dlq")
        async def on_dead(self, data: Any) -> None:
            self.dead.append(data)

    async with run_services(Poison, clock=ManualClock()) as app:
        delivery = await app.publish("poison.run", {"id": 1})
        report = await delivery.outcome(handler="on_poison", timeout=5)
        # The dead-letter queue's copy keeps the SNS notification (and its id).
        assert (await delivery.outcome(handler="on_dead", timeout=5)).handled
        service: Any = app[Poison]
        logs = app.logs
    assert report.dead_lettered and report.retries == 3
    assert [count for count, _ in service.calls] == [1, 2, 3, 4]  # bounded: max_attempts deliveries
    assert service.dead == [{"id": 1}]
    [line] = [r for r in logs if r["message"] == "message dead-lettered"]
    assert (line["level"], line["attempt"], line["dead_letter_to"]) == ("warning", 4, "poison-dlq")


async def test_max_receive_count_caps_the_policy_so_redrive_and_decision_agree() -> None:
    class Capped(tomodachi.Service):
        name = "capped"
        message_envelope = JsonBase
        calls: list[tuple[int, float]]

        async def _start_service(self) -> None:
            self.calls = []

        @tomodachi.aws_sns_sqs("capped.run", dead_letter_queue_name="capped-dlq", max_receive_count=2)
        async def on_capped(self, data: Any, approximate_receive_count: int) -> None:
            self.calls.append((approximate_receive_count, 0.0))
            raise tomodachi.RetryMessage("never")

    async with run_services(Capped, clock=ManualClock()) as app:
        report = await (await app.publish("capped.run", 1)).outcome(timeout=5)
        assert app.broker.sns_sqs.queue("capped-dlq").visible_count == 1
        calls = _deliveries(app[Capped])
    assert report.dead_lettered and [count for count, _ in calls] == [1, 2]


async def test_dead_letter_queues_option_creates_a_dlq_per_handler() -> None:
    class Kept(tomodachi.Service):
        name = "kept"
        message_envelope = JsonBase
        options = tomodachi.Options(aws_sns_sqs={"dead_letter_queues": True}, retry={"max_attempts": 3})

        @tomodachi.aws_sns_sqs(queue_name="kept-work")
        async def on_work(self, data: Any) -> None:
            raise tomodachi.RetryMessage("never")

        @tomodachi.aws_sns_sqs(queue_name="kept-ledger.fifo", fifo=True)
        async def on_ledger(self, data: Any) -> None:
            raise ValueError("a bug: not retried, dead-lettered at once")

        @tomodachi.aws_sns_sqs(
            queue_name="kept-own", dead_letter_queue_name="kept-own-dead", max_receive_count=5
        )
        async def on_own(self, data: Any) -> None:
            pass

    async with run_services(Kept, clock=ManualClock()) as app:
        sns_sqs = app.broker.sns_sqs
        assert sns_sqs.queue_attributes("kept-work")["RedrivePolicy"] == {
            "deadLetterTargetArn": sns_sqs.queue_attributes("kept-work-dlq")["QueueArn"],
            "maxReceiveCount": 3,
        }
        assert sns_sqs.queue_exists("kept-ledger-dlq.fifo")
        assert not sns_sqs.queue_exists("kept-own-dlq")  # a handler's own dead-letter queue wins
        work = await (await app.send("kept-work", "w")).outcome(timeout=5)
        ledger = await (await app.send("kept-ledger.fifo", "l", group_id="g", deduplication_id="l1")).outcome(
            timeout=5
        )
        assert sns_sqs.queue("kept-work-dlq").visible_count == 1
        assert sns_sqs.queue("kept-ledger-dlq.fifo").visible_count == 1
        routes = {route.handler: route for route in _transport(app).dead_letter_routes()}
        logs = app.logs
    assert (work.result, work.retries, ledger.result, ledger.retries) == (
        "dead_lettered",
        2,
        "dead_lettered",
        0,
    )
    assert routes == {
        "on_work": DeadLetterRoute("kept", "on_work", "aws_sns_sqs", "kept-work", "kept-work-dlq"),
        "on_ledger": DeadLetterRoute(
            "kept", "on_ledger", "aws_sns_sqs", "kept-ledger.fifo", "kept-ledger-dlq.fifo"
        ),
        "on_own": DeadLetterRoute("kept", "on_own", "aws_sns_sqs", "kept-own", "kept-own-dead"),
    }
    assert not [r for r in logs if "will be dropped" in r["message"]]  # nothing to warn about


def _transport(app: Any) -> AWSSNSSQSTransport:
    transport = app.runtime.transport(app.service, AWSSNSSQSTransport)
    assert transport is not None
    return transport  # type: ignore[no-any-return]


async def test_a_start_up_warning_names_each_handler_that_would_drop_failed_messages() -> None:
    class Careless(tomodachi.Service):
        name = "careless"

        @tomodachi.aws_sns_sqs("careless.events", competing=True)
        async def on_event(self, message: str) -> None:
            pass

        @tomodachi.aws_sns_sqs(
            queue_name="careful", dead_letter_queue_name="careful-dlq", max_receive_count=3
        )
        async def on_careful(self, message: str) -> None:
            pass

    async with run_services(Careless) as app:
        logs = app.logs
        routes = _transport(app).dead_letter_routes()
    warnings = [r for r in logs if "will be dropped" in r["message"]]
    assert len(warnings) == 1
    [line] = warnings
    assert line["level"] == "warning" and line["handler"] == "on_event"
    assert line["queue"] == routes[0].queue and routes[0].drops
    assert "dead_letter_queue_name" in line["message"] and "aws_sns_sqs.dead_letter_queues" in line["message"]
    assert not routes[1].drops


async def test_dead_letter_routes_are_known_after_setup_without_a_connection() -> None:
    class Remote(tomodachi.Service):
        name = "remote"
        options = tomodachi.Options(
            aws_sns_sqs={"region_name": "eu-west-1", "queue_name_prefix": "p-", "dead_letter_queues": True},
            # Nothing listens here: setup() must not connect.
            aws_endpoint_urls={"sqs": "http://127.0.0.1:9", "sns": "http://127.0.0.1:9"},
        )

        @tomodachi.aws_sns_sqs(queue_name="jobs")
        async def on_job(self, message: str) -> None:
            pass

    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer([Remote], runtime)
    try:
        await container.setup()
        [instance] = container.instances
        transport = runtime.transport(instance, AWSSNSSQSTransport)
        assert transport is not None
        assert transport.dead_letter_routes() == [
            DeadLetterRoute("remote", "on_job", "aws_sns_sqs", "p-jobs", "p-jobs-dlq")
        ]
    finally:
        await runtime.aclose()


async def test_a_handler_policy_beats_the_service_retry_options() -> None:
    class Mixed(tomodachi.Service):
        name = "mixed"
        message_envelope = JsonBase
        options = tomodachi.Options(retry={"max_attempts": 2, "initial_delay": 5, "jitter": False})
        counts: dict[str, list[int]]

        async def _start_service(self) -> None:
            self.counts = {"own": [], "service": []}

        @tomodachi.aws_sns_sqs(
            "mixed.own", retry=tomodachi.RetryPolicy(max_attempts=4, initial_delay=1, jitter=False)
        )
        async def on_own(self, data: Any, approximate_receive_count: int) -> None:
            self.counts["own"].append(approximate_receive_count)
            raise tomodachi.RetryMessage("never")

        @tomodachi.aws_sns_sqs("mixed.service")
        async def on_service(self, data: Any, approximate_receive_count: int) -> None:
            self.counts["service"].append(approximate_receive_count)
            raise tomodachi.RetryMessage("never")

    events: list[Settled] = []
    async with run_services(Mixed, clock=ManualClock()) as app:
        observers_of(app.runtime).settled.append(events.append)
        own = await (await app.publish("mixed.own", 1)).outcome(timeout=5)
        service = await (await app.publish("mixed.service", 1)).outcome(timeout=5)
        counts: dict[str, list[int]] = app[Mixed].counts  # type: ignore[attr-defined]
    assert counts == {"own": [1, 2, 3, 4], "service": [1, 2]}
    assert (own.result, service.result) == ("dropped", "dropped")
    delays = {(e.handler, e.attempt): e.delay for e in events if e.result == "retry"}
    assert delays == {("on_own", 1): 1.0, ("on_own", 2): 2.0, ("on_own", 3): 4.0, ("on_service", 1): 5.0}


async def test_a_retried_fifo_message_blocks_its_group_until_it_is_handled() -> None:
    class Ledger(tomodachi.Service):
        name = "ledger"
        message_envelope = JsonBase
        seen: list[tuple[str, int, float]]

        async def _start_service(self) -> None:
            self.seen = []

        @tomodachi.aws_sns_sqs(
            "ledger.entry",
            fifo=True,
            competing=True,
            retry=tomodachi.RetryPolicy(initial_delay=20, jitter=False),
        )
        async def on_entry(self, data: str, approximate_receive_count: int) -> None:
            self.seen.append((data, approximate_receive_count, get_clock().monotonic()))
            if data == "first" and approximate_receive_count < 3:
                raise tomodachi.RetryMessage("not yet")

    async with run_services(Ledger, clock=ManualClock()) as app:
        first = await app.publish("ledger.entry", "first", group_id="g")
        second = await app.publish("ledger.entry", "second", group_id="g")
        assert (await first.outcome(timeout=5)).handled
        assert (await second.outcome(timeout=5)).handled
        seen: list[tuple[str, int, float]] = app[Ledger].seen  # type: ignore[attr-defined]
    assert [(data, count) for data, count, _ in seen] == [
        ("first", 1),
        ("first", 2),
        ("first", 3),
        ("second", 1),
    ]
    assert seen[1][2] - seen[0][2] == 20 and seen[2][2] - seen[1][2] == 40


@pytest.mark.parametrize(
    ("queue", "expected"),
    [("jobs", "jobs-dlq"), ("jobs.fifo", "jobs-dlq.fifo"), ("p-" + "a" * 74, "p-" + "a" * 74 + "-dlq")],
)
def test_dead_letter_queue_names(queue: str, expected: str) -> None:
    assert dead_letter_queue_name(queue) == expected


@pytest.mark.parametrize("queue", ["p-" + "a" * 75, "p-" + "a" * 70 + ".fifo"])
def test_a_dead_letter_queue_name_past_80_characters_is_shortened_and_stays_unique(queue: str) -> None:
    name = dead_letter_queue_name(queue)
    assert len(name) == 80 and name.startswith("p-aaa")
    assert name.endswith("-dlq.fifo" if queue.endswith(".fifo") else "-dlq")
    other = queue.replace("p-a", "p-b", 1)
    assert dead_letter_queue_name(other) != name
