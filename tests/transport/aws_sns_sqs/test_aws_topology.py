"""Topology on AWS (moto): queues, DLQs, policies, subscriptions, filter policies, wildcards,
idempotence (only differences are written), verify-only start-up, naming."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

import tomodachi
from tomodachi.container import StartupError
from tomodachi.envelope import JsonBase
from tomodachi.transport.aws_sns_sqs import FILTER_POLICY_DEFAULT

pytestmark = pytest.mark.aws

_WRITES = {
    "create_queue",
    "create_topic",
    "set_queue_attributes",
    "set_topic_attributes",
    "subscribe",
    "set_subscription_attributes",
}


def writes(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [operation for operation, _ in calls if operation in _WRITES]


def subscription_arn_for(subscriptions: list[dict[str, Any]], queue_name: str) -> str:
    (arn,) = [s["SubscriptionArn"] for s in subscriptions if s["Endpoint"].endswith(":" + queue_name)]
    return str(arn)


async def test_filter_policy_applied_updated_and_removed(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    got: list[str] = []
    policy = {"currency": ["SEK", "EUR", "USD", "GBP", "CNY"], "amount": [{"numeric": [">=", 99.51]}]}

    def service_class(filter_policy: Any) -> type[tomodachi.Service]:
        class Service(tomodachi.Service):
            name = "filters"
            options = make_options()
            message_envelope = JsonBase

            # A stopped service's cancelled long poll may still take a message on the server
            # side (SQS and moto finish the poll); a short visibility timeout brings it back.
            @tomodachi.aws_sns_sqs(
                "payments", queue_name="filtered", filter_policy=filter_policy, visibility_timeout=1
            )
            async def handler(self, data: Any) -> None:
                got.append(data)

        return Service

    async def publish(service: Any, data: str, **attributes: Any) -> None:
        await tomodachi.aws_sns_sqs_publish(service, data, "payments", message_attributes=attributes)

    async with serve(service_class(policy)) as running:
        await publish(running.service, "sek-100", currency="SEK", amount=100)
        await publish(running.service, "sek-50", currency="SEK", amount=50)
        await publish(running.service, "nok-100", currency="NOK", amount=100)
        await publish(running.service, "usd-99.51", currency="USD", amount=99.51)
        await wait_until(lambda: len(got) >= 2, 10, "the matching messages")
        await asyncio.sleep(0.3)
    assert sorted(got) == ["sek-100", "usd-99.51"]

    topic_arn = await boto.topic_arn(prefix + "payments")
    subscriptions = (await boto.sns.list_subscriptions_by_topic(TopicArn=topic_arn))["Subscriptions"]
    subscription = subscription_arn_for(subscriptions, prefix + "filtered")
    attributes = (await boto.sns.get_subscription_attributes(SubscriptionArn=subscription))["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == policy

    # The default leaves the subscription as it is; a new policy replaces it; None removes it.
    async with serve(service_class(FILTER_POLICY_DEFAULT)):
        pass
    attributes = (await boto.sns.get_subscription_attributes(SubscriptionArn=subscription))["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == policy

    async with serve(service_class({"currency": ["NOK"]})):
        pass
    attributes = (await boto.sns.get_subscription_attributes(SubscriptionArn=subscription))["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"currency": ["NOK"]}

    got.clear()
    async with serve(service_class(None)) as running:
        attributes = (await boto.sns.get_subscription_attributes(SubscriptionArn=subscription))["Attributes"]
        assert json.loads(attributes.get("FilterPolicy") or "{}") == {}
        await publish(running.service, "anything")
        await wait_until(lambda: got == ["anything"], 10, "the unfiltered message")
    subscriptions = (await boto.sns.list_subscriptions_by_topic(TopicArn=topic_arn))["Subscriptions"]
    assert len(subscriptions) == 1  # updated in place, never subscribed twice


async def test_wildcard_topics(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    star: list[str] = []
    hash_: list[str] = []
    for topic in ("orders.created", "orders.deleted", "orders.eu.created", "invoices.created"):
        await boto.topic_arn(prefix + topic.replace(".", "___2e_"))

    class Service(tomodachi.Service):
        name = "wildcards"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("orders.*", competing=True)
        async def one_level(self, data: Any, topic: str) -> None:
            star.append(topic)

        @tomodachi.aws_sns_sqs("orders.#", competing=True)
        async def any_level(self, data: Any, topic: str) -> None:
            hash_.append(topic)

    async with serve(Service) as running:
        for topic in ("orders.created", "orders.deleted", "orders.eu.created", "invoices.created"):
            await tomodachi.aws_sns_sqs_publish(running.service, {}, topic)
        await wait_until(lambda: len(star) >= 2 and len(hash_) >= 3, 10, "the matching messages")
        await asyncio.sleep(0.3)
    assert sorted(star) == ["orders.created", "orders.deleted"]
    assert sorted(hash_) == ["orders.created", "orders.deleted", "orders.eu.created"]
    # The queue policy allows every topic under the pattern's literal prefix.
    queue = prefix + hashlib.sha256(f"{prefix}orders___2e_*".encode()).hexdigest()
    policy = json.loads((await boto.queue_attributes(queue))["Policy"])
    condition = policy["Statement"][0]["Condition"]
    assert condition == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:123456789012:{prefix}orders___2e_*"}
    }


async def test_second_start_writes_nothing_and_changes_only_what_differs(
    proxied_options: Any, serve: Any, boto: Any, prefix: str, aws_proxy: Any
) -> None:
    def service_class(visibility: int) -> type[tomodachi.Service]:
        class Service(tomodachi.Service):
            name = "idempotent"
            options = proxied_options()
            message_envelope = JsonBase

            @tomodachi.aws_sns_sqs(
                "events",
                queue_name="events",
                visibility_timeout=visibility,
                dead_letter_queue_name="events-dlq",
                max_receive_count=3,
                filter_policy={"kind": ["a"]},
            )
            async def handler(self, data: Any) -> None:
                pass

            @tomodachi.aws_sns_sqs(queue_name="inbox", visibility_timeout=visibility)
            async def inbox(self, data: Any) -> None:
                pass

        return Service

    async with serve(service_class(20)):
        pass
    assert sorted(set(writes(aws_proxy.calls))) == sorted(
        _WRITES - {"set_topic_attributes", "set_subscription_attributes"}
    )
    attributes = await boto.queue_attributes(prefix + "events")
    assert attributes["VisibilityTimeout"] == "20"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:eu-west-1:123456789012:{prefix}events-dlq",
        "maxReceiveCount": 3,
    }
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:123456789012:{prefix}events"}
    }

    aws_proxy.calls.clear()
    async with serve(service_class(20)):
        pass
    assert [
        w for w in writes(aws_proxy.calls) if w != "create_topic"
    ] == []  # CreateTopic is the idempotent lookup

    aws_proxy.calls.clear()
    async with serve(service_class(45)):
        pass
    changed = [
        kwargs["Attributes"] for operation, kwargs in aws_proxy.calls if operation == "set_queue_attributes"
    ]
    assert changed == [{"VisibilityTimeout": "45"}, {"VisibilityTimeout": "45"}]
    assert (await boto.queue_attributes(prefix + "inbox"))["VisibilityTimeout"] == "45"


async def test_queue_only_handler_gets_visibility_and_dead_letter_queue(
    make_options: Any, serve: Any, boto: Any, prefix: str
) -> None:
    class Service(tomodachi.Service):
        name = "queue-only"
        options = make_options()

        @tomodachi.aws_sns_sqs(
            queue_name="work", visibility_timeout=17, dead_letter_queue_name="work-dlq", max_receive_count=4
        )
        async def handler(self, message: str) -> None:
            pass

    async with serve(Service):
        pass
    attributes = await boto.queue_attributes(prefix + "work")
    assert attributes["VisibilityTimeout"] == "17"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 4
    assert "Policy" not in attributes

    class Removed(tomodachi.Service):
        name = "queue-only"
        options = make_options()

        @tomodachi.aws_sns_sqs(queue_name="work", dead_letter_queue_name=None)
        async def handler(self, message: str) -> None:
            pass

    async with serve(Removed):
        pass
    assert not (await boto.queue_attributes(prefix + "work")).get("RedrivePolicy")


async def test_fifo_topology(make_options: Any, serve: Any, boto: Any, prefix: str) -> None:
    class Service(tomodachi.Service):
        name = "fifo-topology"
        options = make_options()

        @tomodachi.aws_sns_sqs(
            "ledger",
            queue_name="ledger.fifo",
            fifo=True,
            dead_letter_queue_name="ledger-dlq",
            max_receive_count=2,
        )
        async def handler(self, message: str) -> None:
            pass

    async with serve(Service):
        pass
    attributes = await boto.queue_attributes(prefix + "ledger.fifo")
    for name, value in {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
    }.items():
        assert attributes[name] == value
    assert (await boto.queue_attributes(prefix + "ledger-dlq.fifo"))["FifoQueue"] == "true"
    topic = await boto.sns.get_topic_attributes(
        TopicArn=f"arn:aws:sns:eu-west-1:123456789012:{prefix}ledger.fifo"
    )
    assert topic["Attributes"]["FifoTopic"] == "true"


async def test_manage_topology_off_fails_with_one_line_naming_what_is_missing(
    proxied_options: Any, serve: Any, boto: Any, prefix: str, aws_proxy: Any
) -> None:
    def service_class(manage: bool) -> type[tomodachi.Service]:
        class Service(tomodachi.Service):
            name = "verify"
            options = proxied_options(**{"aws_sns_sqs.manage_topology": manage})

            @tomodachi.aws_sns_sqs("audit", queue_name="audit")
            async def handler(self, message: str) -> None:
                pass

            @tomodachi.aws_sns_sqs(queue_name="audit-inbox")
            async def inbox(self, message: str) -> None:
                pass

        return Service

    with pytest.raises(StartupError) as failure:
        async with serve(service_class(False)):
            pass
    message = str(failure.value)
    assert "\n" not in message
    assert f"queue '{prefix}audit' does not exist" in message
    assert f"queue '{prefix}audit-inbox' does not exist" in message
    assert "manage_topology is off" in message
    assert writes(aws_proxy.calls) == []
    with pytest.raises(Exception, match="NonExistentQueue"):
        await boto.queue_url(prefix + "audit")

    # The queue exists, but neither the topic nor the subscription do.
    await boto.sqs.create_queue(QueueName=prefix + "audit")
    await boto.sqs.create_queue(QueueName=prefix + "audit-inbox")
    with pytest.raises(StartupError, match=f"topic '{prefix}audit' does not exist"):
        async with serve(service_class(False)):
            pass
    await boto.topic_arn(prefix + "audit")
    with pytest.raises(
        StartupError, match=f"queue '{prefix}audit' is not subscribed to topic '{prefix}audit'"
    ):
        async with serve(service_class(False)):
            pass
    assert writes(aws_proxy.calls) == []

    # Once a managed start created everything, a verify-only start passes.
    async with serve(service_class(True)):
        pass
    aws_proxy.calls.clear()
    async with serve(service_class(False)):
        pass
    assert writes(aws_proxy.calls) == []


def test_queue_name_vectors() -> None:
    from tomodachi.transport.aws_sns_sqs.naming import queue_name

    uuid_ = "5d0b530f-5c44-4981-b01f-342801bd48f5"
    assert (
        queue_name("test-topic", "func", uuid_, competing=None)
        == "45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975"
    )
    assert (
        queue_name("test-topic", "func", uuid_, competing=True)
        == "c6fb053c1b70aabd10bfefd087166b532b7c79ed12d24f2d43a9999c724797fd"
    )


async def test_created_queue_names_follow_the_vectors(make_options: Any, serve: Any, boto: Any) -> None:
    class Service(tomodachi.Service):
        name = "naming"
        uuid = "5d0b530f-5c44-4981-b01f-342801bd48f5"
        options = make_options(**{"aws_sns_sqs.topic_prefix": "", "aws_sns_sqs.queue_name_prefix": ""})

        @tomodachi.aws_sns_sqs("test-topic")
        async def func(self, message: str) -> None:
            pass

    async with serve(Service):
        pass
    await boto.queue_url("45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975")
