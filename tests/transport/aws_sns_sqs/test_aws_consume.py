"""Consuming on AWS (moto): injected values, settling, dead-lettering, FIFO order, bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.transport.aws_sns_sqs import AWSSNSSQSInternalServiceError

pytestmark = pytest.mark.aws


async def test_publish_consume_and_injected_values(
    aws_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    got: list[dict[str, Any]] = []

    class Service(tomodachi.Service):
        name = "consume"
        options = aws_options
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("order.created", competing=True)
        async def handler(
            self,
            data: Any,
            topic: str,
            message_attributes: dict[str, Any],
            sns_message_id: str,
            sqs_message_id: str,
            message_type: str,
            approximate_receive_count: int,
            queue_url: str,
            receipt_handle: str,
            message_uuid: str,
            raw_message_body: str,
        ) -> None:
            got.append(dict(locals()))

    async with serve(Service) as running:
        message_id = await tomodachi.aws_sns_sqs_publish(
            running.service, {"order": 1}, "order.created", message_attributes={"kind": "new"}
        )
        await wait_until(lambda: got, 10, "the message")
    (call,) = got
    assert call["data"] == {"order": 1}
    assert call["topic"] == "order.created"  # decoded, prefix stripped
    assert call["message_attributes"] == {"kind": "new"}
    assert call["sns_message_id"] == message_id
    assert call["sqs_message_id"] and call["sqs_message_id"] != message_id
    assert call["message_type"] == "Notification"
    assert call["approximate_receive_count"] == 1
    # Competing: one queue per topic, sha256 of the encoded, prefixed topic name.
    expected_queue = prefix + hashlib.sha256(f"{prefix}order___2e_created".encode()).hexdigest()
    assert call["queue_url"].endswith("/" + expected_queue)
    assert call["receipt_handle"]
    assert call["message_uuid"].startswith(running.service.uuid)
    assert json.loads(call["raw_message_body"])["TopicArn"].endswith(prefix + "order___2e_created")
    # Deleted after success: nothing is left in the queue.
    queue = call["queue_url"].rsplit("/", 1)[-1]
    assert await boto.drain(queue) == []


async def test_fifo_order_within_each_group(make_options: Any, serve: Any, wait_until: Any) -> None:
    got: list[tuple[str, int]] = []

    class Service(tomodachi.Service):
        name = "fifo"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("jobs", fifo=True, competing=True)
        async def handler(self, data: Any, message_group_id: str, message_deduplication_id: str) -> None:
            await asyncio.sleep(0.001 * (data["n"] % 3))
            assert message_deduplication_id
            got.append((message_group_id, data["n"]))

    async with serve(Service) as running:
        for n in range(8):
            for group in ("a", "b"):
                await tomodachi.aws_sns_sqs_publish(running.service, {"n": n}, "jobs", group_id=group)
        await wait_until(lambda: len(got) >= 16, 20, "16 FIFO messages")
    assert [n for g, n in got if g == "a"] == list(range(8))
    assert [n for g, n in got if g == "b"] == list(range(8))


async def test_dead_letter_queue_after_max_receive_count(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    counts: list[int] = []

    class Service(tomodachi.Service):
        name = "dlq"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(
            "payments",
            competing=True,
            visibility_timeout=1,
            dead_letter_queue_name="payments-dlq",
            max_receive_count=2,
        )
        async def handler(self, data: Any, approximate_receive_count: int) -> None:
            counts.append(approximate_receive_count)
            raise AWSSNSSQSInternalServiceError("try again later")

    dead: list[dict[str, Any]] = []
    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, {"id": 7}, "payments")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not dead and loop.time() < deadline:
            dead.extend(await boto.drain(prefix + "payments-dlq", wait=1))
    assert counts[:2] == [1, 2]
    assert len(dead) == 1
    notification = json.loads(dead[0]["Body"])
    assert json.loads(notification["Message"])["data"] == {"id": 7}
    attributes = await boto.queue_attributes(prefix + "payments-dlq")
    assert attributes["MessageRetentionPeriod"] == "1209600"


async def test_failed_handler_sends_to_dead_letter_queue_at_once(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    calls: list[int] = []

    class Service(tomodachi.Service):
        name = "dlq-now"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(
            "refunds", queue_name="refunds", dead_letter_queue_name="refunds-dlq", max_receive_count=5
        )
        async def handler(self, data: Any) -> None:
            calls.append(1)
            raise ValueError("cannot ever work")

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(
            running.service, {"id": 1}, "refunds", message_attributes={"n": 3, "tag": "x"}
        )
        dead: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not dead and loop.time() < deadline:
            dead.extend(await boto.drain(prefix + "refunds-dlq", wait=1))
        assert calls == [1]  # not retried: dead-lettered at once
        assert len(dead) == 1
        assert json.loads(json.loads(dead[0]["Body"])["Message"])["data"] == {"id": 1}
        assert await boto.drain(prefix + "refunds") == []  # and deleted from the queue


async def test_failed_handler_without_dead_letter_queue_is_dropped_and_logged(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str, json_logs: Any
) -> None:
    calls: list[int] = []

    class Service(tomodachi.Service):
        name = "drop"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("drops", queue_name="drops", visibility_timeout=1)
        async def handler(self, data: Any) -> None:
            calls.append(1)
            raise ValueError("boom")

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, {"id": 1}, "drops")
        await wait_until(
            lambda: any("message dropped" in r.get("message", "") for r in json_logs()), 10, "drop log"
        )
        await asyncio.sleep(1.2)  # past the visibility timeout: it would be back if it was not deleted
        assert calls == [1]
        assert await boto.drain(prefix + "drops") == []


async def test_retry_leaves_the_message_for_redelivery(
    make_options: Any, serve: Any, wait_until: Any
) -> None:
    counts: list[int] = []

    class Service(tomodachi.Service):
        name = "retry"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("retries", competing=True, visibility_timeout=1)
        async def handler(self, data: Any, approximate_receive_count: int) -> None:
            counts.append(approximate_receive_count)
            if approximate_receive_count < 2:
                raise tomodachi.RetryMessage("not yet")

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, {"id": 1}, "retries")
        await wait_until(lambda: len(counts) >= 2, 10, "the redelivery")
        await asyncio.sleep(1.3)
    assert counts == [1, 2]


async def test_original_notification_wire_format_is_consumed(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    """A body exactly as SNS delivers it, carrying a JsonBase payload written by the original."""
    got: list[tuple[Any, str, str, str, dict[str, Any]]] = []

    class Service(tomodachi.Service):
        name = "interop"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(queue_name="interop")
        async def handler(
            self,
            data: Any,
            topic: str,
            sns_message_id: str,
            metadata: dict[str, Any],
            message_attributes: Any,
        ) -> None:
            got.append((data, topic, sns_message_id, metadata["message_uuid"], message_attributes))

    payload = json.dumps(
        {
            "service": {"name": "legacy", "uuid": "5d0b530f-5c44-4981-b01f-342801bd48f5"},
            "metadata": {
                "message_uuid": "5d0b530f-5c44-4981-b01f-342801bd48f5.9d6c8b43-1d23-4b52-a1a1-4a7e2cda1e00",
                "protocol_version": "tomodachi-json-base--1.0.0",
                "compatible_protocol_versions": ["json_base-wip"],
                "timestamp": 1700000000.123,
                "topic": "order.created",
                "data_encoding": "raw",
            },
            "data": {"order_id": 42},
        }
    )
    sns_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "Type": "Notification",
            "MessageId": sns_id,
            "TopicArn": f"arn:aws:sns:eu-west-1:123456789012:{prefix}order___2e_created",
            "Message": payload,
            "Timestamp": "2023-11-14T22:13:20.123Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {
                "n": {"Type": "Number", "Value": "5"},
                "s": {"Type": "String", "Value": "x"},
            },
        },
        indent=2,
    )
    async with serve(Service):
        await boto.sqs.send_message(QueueUrl=await boto.queue_url(prefix + "interop"), MessageBody=body)
        await wait_until(lambda: got, 10, "the message")
    assert got == [
        (
            {"order_id": 42},
            "order.created",
            sns_id,
            "5d0b530f-5c44-4981-b01f-342801bd48f5.9d6c8b43-1d23-4b52-a1a1-4a7e2cda1e00",
            {"n": 5, "s": "x"},
        )
    ]


async def test_raw_and_foreign_bodies_reach_the_handler(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    got: list[tuple[str, str, str]] = []

    class Service(tomodachi.Service):
        name = "raw"
        options = make_options()

        @tomodachi.aws_sns_sqs(queue_name="raw", message_envelope=None)
        async def handler(self, body: str, topic: str, message_type: str) -> None:
            got.append((body, topic, message_type))

    async with serve(Service):
        url = await boto.queue_url(prefix + "raw")
        await boto.sqs.send_message(QueueUrl=url, MessageBody="plain text, not JSON")
        await boto.sqs.send_message(QueueUrl=url, MessageBody='{"foreign": true}')
        await wait_until(lambda: len(got) == 2, 10, "two messages")
        assert await boto.drain(prefix + "raw") == []
    assert sorted(got) == [("plain text, not JSON", "", ""), ('{"foreign": true}', "", "")]
