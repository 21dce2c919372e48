"""``AWSSNSRegistration``: registration documents on SNS, through moto's server and through the
in-memory broker, published as the service (its envelope, topic prefix and credentials)."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import tomodachi
from tomodachi.discovery import AWSSNSRegistration, register_service
from tomodachi.envelope import JsonBase
from tomodachi.runtime import Runtime
from tomodachi.transport.memory.broker import MemoryBroker

REGISTER = "services-registration-register"
DEREGISTER = "services-registration-deregister"


def announcer(envelope: Any = JsonBase, **options: Any) -> tomodachi.Service:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `discovery` is deprecated

        class Announcer(tomodachi.Service):
            name = "announcer"
            message_envelope = envelope
            discovery = [AWSSNSRegistration]

    service = Announcer()
    service.uuid = "c0ffee00-0000-4000-8000-000000000001"
    service.options = tomodachi.Options(**options)
    return service


@asynccontextmanager
async def active_run(message_broker: str | None = None) -> AsyncIterator[Runtime]:
    runtime = Runtime()
    runtime.message_broker = message_broker
    token = runtime.activate()
    try:
        yield runtime
    finally:
        await runtime.aclose()
        Runtime.deactivate(token)


@pytest.mark.aws
async def test_registration_and_deregistration_on_sns(
    aws_options: dict[str, Any], prefix: str, sns_probe: Any
) -> None:
    service = announcer(**aws_options)
    registered = await sns_probe(prefix + REGISTER)
    deregistered = await sns_probe(prefix + DEREGISTER)
    async with active_run():
        await AWSSNSRegistration.add_http_endpoint(service, "0.0.0.0", 8080, "GET", "^/health$")
        await AWSSNSRegistration.add_http_endpoint(service, "0.0.0.0", 8080, "POST", r"^/orders/(?P<id>\d+)$")
        await AWSSNSRegistration._register_service(service)

        (notification,) = await registered()
        assert notification["TopicArn"].endswith(":" + prefix + REGISTER)
        message, _, _ = await JsonBase.parse_message(notification["Message"])
        assert message["service"]["name"] == "announcer"
        assert message["data"] == {
            "name": "announcer",
            "uuid": "c0ffee00-0000-4000-8000-000000000001",
            "http_endpoints": [
                ["0.0.0.0", 8080, "GET", "^/health$"],
                ["0.0.0.0", 8080, "POST", r"^/orders/(?P<id>\d+)$"],
            ],
        }
        assert await deregistered() == []

        await AWSSNSRegistration._deregister_service(service)
        (notification,) = await deregistered()
        message, _, _ = await JsonBase.parse_message(notification["Message"])
        assert message["data"] == {"name": "announcer", "uuid": "c0ffee00-0000-4000-8000-000000000001"}

        # The endpoints were forgotten at deregister: a new registration starts empty.
        await AWSSNSRegistration._register_service(service)
        (notification,) = await registered()
        message, _, _ = await JsonBase.parse_message(notification["Message"])
        assert message["data"]["http_endpoints"] == []


@pytest.mark.aws
async def test_a_service_without_envelope_publishes_json_text(
    aws_options: dict[str, Any], prefix: str, sns_probe: Any
) -> None:
    service = announcer(envelope=None, **aws_options)
    registered = await sns_probe(prefix + REGISTER)
    async with active_run():
        await register_service(service)  # through the helper, as the container does
    (notification,) = await registered()
    assert json.loads(notification["Message"]) == {
        "name": "announcer",
        "uuid": "c0ffee00-0000-4000-8000-000000000001",
        "http_endpoints": [],
    }


async def test_on_the_in_memory_broker() -> None:
    service = announcer(**{"aws_sns_sqs.topic_prefix": "mem-"})
    async with active_run("memory") as runtime:
        sns_sqs = MemoryBroker.of(runtime).sns_sqs
        for topic in (REGISTER, DEREGISTER):
            sns_sqs.create_topic("mem-" + topic)
            sns_sqs.create_queue(topic + "-probe")
            sns_sqs.subscribe("mem-" + topic, topic + "-probe", raw_message_delivery=True)

        await AWSSNSRegistration.add_http_endpoint(service, "127.0.0.1", 9000, "GET", "^/$")
        await AWSSNSRegistration._register_service(service)
        await AWSSNSRegistration._deregister_service(service)

        (message,) = await sns_sqs.receive(REGISTER + "-probe", wait_seconds=0)
        parsed, _, _ = await JsonBase.parse_message(message.body)
        assert parsed["data"] == {
            "name": "announcer",
            "uuid": "c0ffee00-0000-4000-8000-000000000001",
            "http_endpoints": [["127.0.0.1", 9000, "GET", "^/$"]],
        }
        (message,) = await sns_sqs.receive(DEREGISTER + "-probe", wait_seconds=0)
        parsed, _, _ = await JsonBase.parse_message(message.body)
        assert parsed["data"] == {"name": "announcer", "uuid": "c0ffee00-0000-4000-8000-000000000001"}
