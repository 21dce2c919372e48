"""SNS topics fanning out to SQS queues: subscriptions, filter policies, notification bodies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tomodachi.clock import SYSTEM_CLOCK, ManualClock
from tomodachi.transport.memory.sns_sqs_broker import SnsSqsBroker
from tomodachi.transport.memory.sqs_queue import SqsMessage

START = datetime(2024, 1, 1, 12, 30, 45, 123456, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def broker(clock: ManualClock) -> SnsSqsBroker:
    broker = SnsSqsBroker(clock)
    broker.create_topic("orders")
    for queue in ("a", "b"):
        broker.create_queue(queue)
    return broker


async def _receive(broker: SnsSqsBroker, queue: str) -> list[SqsMessage]:
    return await broker.receive(queue, wait_seconds=0)


def _string(value: str) -> dict[str, Any]:
    return {"DataType": "String", "StringValue": value}


# -- topics, queues, subscriptions ----------------------------------------------------------
def test_topics_and_queues_have_arns_and_urls() -> None:
    broker = SnsSqsBroker()
    assert broker.clock is SYSTEM_CLOCK
    arn = broker.create_topic("t")
    assert arn == "arn:aws:sns:us-east-1:000000000000:t"
    assert broker.create_topic("t") == arn
    assert broker.create_topic("t.fifo", fifo=True) == "arn:aws:sns:us-east-1:000000000000:t.fifo"
    assert broker.list_topics() == [arn, arn + ".fifo"]
    assert broker.topic_exists("t") and not broker.topic_exists("u")
    assert broker.create_queue("q") == "memory://sqs/q"
    assert broker.queue_attributes("q")["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:q"
    assert broker.queue_exists("q") and not broker.queue_exists("r")


@pytest.mark.parametrize(("name", "fifo"), [("t", True), ("t.fifo", False), ("", False)])
def test_fifo_names_end_with_dot_fifo(name: str, fifo: bool) -> None:
    broker = SnsSqsBroker()
    with pytest.raises(ValueError, match=r"\.fifo"):
        broker.create_topic(name, fifo=fifo)
    with pytest.raises(ValueError, match=r"\.fifo"):
        broker.create_queue(name, fifo=fifo)


def test_create_queue_again_updates_its_settings(broker: SnsSqsBroker) -> None:
    broker.create_queue("q", visibility_timeout=10, delay_seconds=2, redrive=("a", 5))
    assert broker.queue_attributes("q") == {
        "QueueArn": "arn:aws:sqs:us-east-1:000000000000:q",
        "VisibilityTimeout": 10,
        "DelaySeconds": 2,
        "RedrivePolicy": {
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:a",
            "maxReceiveCount": 5,
        },
        "FifoQueue": False,
        "ApproximateNumberOfMessages": 0,
        "ApproximateNumberOfMessagesNotVisible": 0,
        "ApproximateNumberOfMessagesDelayed": 0,
    }
    broker.create_queue("q", visibility_timeout=60)
    attributes = broker.queue_attributes("q")
    assert (attributes["VisibilityTimeout"], attributes["DelaySeconds"], attributes["RedrivePolicy"]) == (
        60,
        0,
        None,
    )
    broker.create_queue("q.fifo", fifo=True)
    with pytest.raises(ValueError, match="already exists with fifo=True"):
        broker.create_queue("q.fifo", fifo=False)


def test_set_queue_attributes_leaves_out_what_is_not_given(broker: SnsSqsBroker) -> None:
    broker.create_queue("q", redrive=("a", 2))
    broker.set_queue_attributes("q", visibility_timeout=5)
    attributes = broker.queue_attributes("q")
    assert attributes["VisibilityTimeout"] == 5 and attributes["RedrivePolicy"]["maxReceiveCount"] == 2
    broker.set_queue_attributes("q", delay_seconds=1, redrive=None)
    attributes = broker.queue_attributes("q")
    assert (attributes["VisibilityTimeout"], attributes["DelaySeconds"], attributes["RedrivePolicy"]) == (
        5,
        1,
        None,
    )
    with pytest.raises(ValueError, match=">= 0"):
        broker.set_queue_attributes("q", visibility_timeout=-1)
    with pytest.raises(ValueError, match="no queue"):
        broker.set_queue_attributes("missing", visibility_timeout=1)


def test_subscribe_is_idempotent_and_validates(broker: SnsSqsBroker) -> None:
    arn = broker.subscribe("orders", "a")
    assert arn.startswith("arn:aws:sns:us-east-1:000000000000:orders:")
    assert broker.subscribe("orders", "a", filter_policy={"k": ["v"]}) == arn
    assert broker.subscribe("orders", "b") != arn
    with pytest.raises(ValueError, match="no topic"):
        broker.subscribe("missing", "a")
    with pytest.raises(ValueError, match="no queue"):
        broker.subscribe("orders", "missing")
    with pytest.raises(ValueError, match="non-empty list"):
        broker.subscribe("orders", "a", filter_policy={"k": "v"})
    broker.create_queue("f.fifo", fifo=True)
    with pytest.raises(ValueError, match="FIFO topic"):
        broker.subscribe("orders", "f.fifo")


# -- publishing ------------------------------------------------------------------------------
async def test_publish_fans_out_a_notification_to_every_subscribed_queue(broker: SnsSqsBroker) -> None:
    broker.subscribe("orders", "a")
    broker.subscribe("orders", "b")
    sns_id = broker.publish(
        "orders",
        '{"id": 1}',
        message_attributes={
            "kind": _string("created"),
            "n": {"DataType": "Number", "StringValue": "7"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    (in_a,), (in_b,) = await _receive(broker, "a"), await _receive(broker, "b")
    assert len({sns_id, in_a.message_id, in_b.message_id}) == 3  # each queue copy has its own SQS id
    assert in_a.body == in_b.body
    assert in_a.message_attributes == {}  # non-raw delivery: the attributes are inside the body
    notification = json.loads(in_a.body)
    assert list(notification) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "MessageAttributes",
    ]
    assert notification == {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
        "Message": '{"id": 1}',
        "Timestamp": "2024-01-01T12:30:45.123Z",
        "SignatureVersion": "1",
        "MessageAttributes": {
            "kind": {"Type": "String", "Value": "created"},
            "n": {"Type": "Number", "Value": "7"},
            "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()},
        },
    }


async def test_notification_without_attributes_has_no_message_attributes_key(broker: SnsSqsBroker) -> None:
    broker.subscribe("orders", "a")
    broker.publish("orders", "x")
    (message,) = await _receive(broker, "a")
    assert "MessageAttributes" not in json.loads(message.body)


async def test_raw_message_delivery_sends_the_message_and_its_attributes(broker: SnsSqsBroker) -> None:
    broker.subscribe("orders", "a", raw_message_delivery=True)
    attributes = {"kind": _string("created")}
    broker.publish("orders", "plain text", message_attributes=attributes)
    (message,) = await _receive(broker, "a")
    assert (message.body, message.message_attributes) == ("plain text", attributes)


async def test_filter_policies_choose_the_queues(broker: SnsSqsBroker) -> None:
    broker.subscribe("orders", "a", filter_policy={"kind": ["created"]})
    broker.subscribe("orders", "b", filter_policy={"price": [{"numeric": [">", 100]}]})
    broker.publish("orders", "1", message_attributes={"kind": _string("created")})
    broker.publish("orders", "2", message_attributes={"price": {"DataType": "Number", "StringValue": "150"}})
    broker.publish("orders", "3")
    assert [json.loads(m.body)["Message"] for m in await _receive(broker, "a")] == ["1"]
    assert [json.loads(m.body)["Message"] for m in await _receive(broker, "b")] == ["2"]
    broker.subscribe("orders", "a", filter_policy=None)  # re-subscribing replaces the policy
    broker.publish("orders", "4")
    assert [json.loads(m.body)["Message"] for m in await _receive(broker, "a")] == ["4"]


async def test_unsubscribe_stops_delivery(broker: SnsSqsBroker) -> None:
    broker.subscribe("orders", "a")
    broker.unsubscribe("orders", "a")
    broker.unsubscribe("orders", "a")
    broker.unsubscribe("missing", "a")
    broker.publish("orders", "x")
    assert await _receive(broker, "a") == []


def test_publish_validation(broker: SnsSqsBroker) -> None:
    with pytest.raises(ValueError, match="no topic"):
        broker.publish("missing", "x")
    with pytest.raises(ValueError, match="FIFO topics only"):
        broker.publish("orders", "x", group_id="g")
    with pytest.raises(ValueError, match="StringValue"):
        broker.publish("orders", "x", message_attributes={"a": {"DataType": "String"}})


async def test_fifo_topic_to_fifo_queue_keeps_group_and_deduplication(broker: SnsSqsBroker) -> None:
    broker.create_topic("events.fifo", fifo=True)
    broker.create_queue("e.fifo", fifo=True)
    broker.subscribe("events.fifo", "e.fifo")
    broker.subscribe("events.fifo", "a")  # a standard queue may subscribe to a FIFO topic
    with pytest.raises(ValueError, match="required"):
        broker.publish("events.fifo", "x", group_id="g")
    with pytest.raises(ValueError, match="required"):
        broker.publish("events.fifo", "x", deduplication_id="d")
    first = broker.publish("events.fifo", "1", group_id="g", deduplication_id="d1")
    assert broker.publish("events.fifo", "1 again", group_id="g", deduplication_id="d1") == first
    broker.publish("events.fifo", "2", group_id="g", deduplication_id="d2")
    received = await broker.receive("e.fifo", wait_seconds=0)
    assert [json.loads(m.body)["Message"] for m in received] == ["1", "2"]
    assert [(m.group_id, m.deduplication_id) for m in received] == [("g", "d1"), ("g", "d2")]
    standard = await _receive(broker, "a")
    assert [(m.group_id, m.deduplication_id) for m in standard] == [(None, None), (None, None)]


async def test_delivered_events_name_the_queue_and_the_sqs_message_id(broker: SnsSqsBroker) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    broker.on_event.append(lambda event, details: events.append((event, details)))
    broker.subscribe("orders", "a")
    broker.publish("orders", "x")
    (message,) = await _receive(broker, "a")
    assert events == [
        ("delivered", {"queue": "a", "message_id": message.message_id}),
        ("received", {"queue": "a", "message_id": message.message_id, "receive_count": 1}),
    ]
