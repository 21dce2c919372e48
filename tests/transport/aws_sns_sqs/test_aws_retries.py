"""Retries as a declared policy on AWS (moto, real time): ChangeMessageVisibility delays, bounded
deliveries, dead-letter queues of ``aws_sns_sqs.dead_letter_queues``, a failed visibility change.

The services run through ``tomodachi.testing`` on the AWS backend (``message_broker=None``);
:class:`~tests.transport.aws_sns_sqs.conftest.AwsProxy` records (and can fail) the AWS calls.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services

pytestmark = pytest.mark.aws

#: No jitter: a retry after 1 s, then 2 s.
QUICK = tomodachi.RetryPolicy(max_attempts=3, initial_delay=1, multiplier=2, jitter=False)


async def test_retries_set_the_visibility_timeout_to_the_policy_delay_then_drop(
    proxied_options: Any, aws_proxy: Any
) -> None:
    counts: list[int] = []

    class Flaky(tomodachi.Service):
        name = "flaky"
        message_envelope = JsonBase
        options = proxied_options()

        @tomodachi.aws_sns_sqs("flaky.job", competing=True, visibility_timeout=30, retry=QUICK)
        async def on_job(self, data: Any, approximate_receive_count: int) -> None:
            counts.append(approximate_receive_count)
            raise tomodachi.RetryMessage("never")

    async with run_services(Flaky, message_broker=None) as app:
        report = await (await app.publish("flaky.job", {"n": 1})).outcome(timeout=20)
        logs = app.logs
    assert report.result == "dropped" and report.retries == 2
    assert counts == [1, 2, 3]  # bounded: max_attempts deliveries, not the queue's 30 s each
    changes = [p["Entries"] for op, p in aws_proxy.calls if op == "change_message_visibility_batch"]
    assert [[entry["VisibilityTimeout"] for entry in entries] for entries in changes] == [[1], [2]]
    assert [a.delay for a in report.attempts] == [1.0, 2.0, None]
    retried = [r for r in logs if r["message"] == "message will be retried"]
    assert [(r["level"], r["attempt"], r["delay"]) for r in retried] == [("warning", 1, 1), ("warning", 2, 2)]
    [dropped] = [r for r in logs if r["message"].startswith("message dropped")]
    assert (dropped["level"], dropped["attempt"]) == ("error", 3)
    assert sum(1 for op, _ in aws_proxy.calls if op == "delete_message") == 1


async def test_dead_letter_queues_option_creates_queue_dlq_and_failed_messages_end_there(
    make_options: Any, boto: Any, prefix: str
) -> None:
    class Kept(tomodachi.Service):
        name = "kept"
        message_envelope = JsonBase
        options = make_options(**{"aws_sns_sqs.dead_letter_queues": True, "retry.max_attempts": 2})

        @tomodachi.aws_sns_sqs(
            queue_name="kept-work",
            visibility_timeout=30,
            retry=tomodachi.RetryPolicy(max_attempts=2, initial_delay=1, jitter=False),
        )
        async def on_work(self, data: Any) -> None:
            raise tomodachi.RetryMessage("never")

    async with run_services(Kept, message_broker=None) as app:
        attributes = await boto.queue_attributes(prefix + "kept-work")
        dlq_attributes = await boto.queue_attributes(prefix + "kept-work-dlq")
        report = await (await app.send("kept-work", {"id": 3})).outcome(timeout=20)
        logs = app.logs
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_attributes["QueueArn"],
        "maxReceiveCount": 2,
    }
    assert report.dead_lettered and report.retries == 1
    [dead] = await boto.drain(prefix + "kept-work-dlq")
    assert json.loads(json.loads(dead["Body"])["Message"])["data"] == {"id": 3}
    assert await boto.drain(prefix + "kept-work") == []
    assert not [r for r in logs if "will be dropped" in r["message"]]


async def test_a_failed_visibility_change_leaves_the_message_for_the_queue_timeout(
    proxied_options: Any, aws_proxy: Any
) -> None:
    counts: list[int] = []

    class Stubborn(tomodachi.Service):
        name = "stubborn"
        message_envelope = JsonBase
        options = proxied_options()

        @tomodachi.aws_sns_sqs(
            "stubborn.job",
            competing=True,
            visibility_timeout=2,
            retry=tomodachi.RetryPolicy(initial_delay=600, max_delay=600, jitter=False),
        )
        async def on_job(self, data: Any, approximate_receive_count: int) -> None:
            counts.append(approximate_receive_count)
            if approximate_receive_count < 3:
                raise tomodachi.RetryMessage("not yet")

    async with run_services(Stubborn, message_broker=None) as app:
        aws_proxy.fail("change_message_visibility_batch", 5, code="InternalError")
        report = await (await app.publish("stubborn.job", 1)).outcome(timeout=20)
        logs = app.logs
    # Both 600 s delays failed to apply: the queue's 2 s visibility timeout brought it back.
    assert report.handled and counts == [1, 2, 3]
    warnings = [r for r in logs if r["message"].startswith("could not delay the retry")]
    assert len(warnings) == 1  # once per series of failures
    assert warnings[0]["level"] == "warning" and "exception" not in warnings[0]
    assert "InternalError" in warnings[0]["error"]
    assert [a.delay for a in report.attempts] == [None, None, None]


async def test_a_redrive_policy_set_outside_tomodachi_counts_as_the_dead_letter_queue(
    make_options: Any, boto: Any, prefix: str
) -> None:
    # A queue and its dead-letter queue managed elsewhere (infrastructure as code, say).
    dlq_url = (await boto.sqs.create_queue(QueueName=prefix + "managed-dlq"))["QueueUrl"]
    dlq_arn = (await boto.queue_attributes(prefix + "managed-dlq"))["QueueArn"]
    await boto.sqs.create_queue(
        QueueName=prefix + "managed",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )
    counts: list[int] = []

    class Managed(tomodachi.Service):
        name = "managed"
        message_envelope = JsonBase
        options = make_options()

        @tomodachi.aws_sns_sqs(
            queue_name="managed", retry=tomodachi.RetryPolicy(initial_delay=1, jitter=False)
        )
        async def on_work(self, data: Any, approximate_receive_count: int) -> None:
            counts.append(approximate_receive_count)
            raise tomodachi.RetryMessage("never")

    async with run_services(Managed, message_broker=None) as app:
        report = await (await app.send("managed", {"id": 5})).outcome(timeout=20)
        transport = app.runtime.transport(app.service, tomodachi.transport.aws_sns_sqs.AWSSNSSQSTransport)
        assert transport is not None
        routes = transport.dead_letter_routes()
        logs = app.logs
    assert counts == [1, 2]  # the policy's 10 attempts capped by the queue's maxReceiveCount
    assert report.dead_lettered
    [dead] = await boto.drain(prefix + "managed-dlq")
    assert json.loads(json.loads(dead["Body"])["Message"])["data"] == {"id": 5}
    assert [route.dead_letter_queue for route in routes] == [prefix + "managed-dlq"]
    assert not [r for r in logs if "will be dropped" in r["message"]]
    assert dlq_url.endswith(prefix + "managed-dlq")
