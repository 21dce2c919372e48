"""A trace crossing two services over real brokers: RabbitMQ (headers) and moto's SNS+SQS
(message attributes)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.trace import SpanKind

import tomodachi
from tests._moto_support import moto_server
from tests._support import wait_until
from tomodachi.testing import run_services

from .conftest import Telemetry


def _check_one_trace(telemetry: Telemetry, destination: str, system: str) -> None:
    spans = telemetry.spans.get_finished_spans()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    producer = next(s for s in spans if s.kind is SpanKind.PRODUCER)
    consumer = next(s for s in spans if s.kind is SpanKind.CONSUMER)
    assert producer.name == f"{destination} publish"
    assert consumer.name == f"{destination} process"
    assert consumer.attributes is not None and consumer.attributes["messaging.system"] == system
    assert consumer.context.trace_id == server.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id


@pytest.mark.rabbitmq
async def test_a_trace_crosses_two_services_over_rabbitmq(telemetry: Telemetry) -> None:
    prefix = f"test-otel-{uuid.uuid4().hex[:8]}."
    options = tomodachi.Options(
        amqp={"routing_key_prefix": prefix, "queue_name_prefix": prefix, "queue_ttl": 60}
    )
    seen: list[Any] = []

    class Front(tomodachi.Service):
        name = "front"
        message_envelope = tomodachi.envelope.JsonBase

        def __init__(self) -> None:
            self.options = options

        @tomodachi.http("GET", r"/go")
        async def go(self) -> str:
            await tomodachi.amqp_publish(self, {"n": 1}, "otel.go")
            return "ok"

    class Back(tomodachi.Service):
        name = "back"
        message_envelope = tomodachi.envelope.JsonBase

        def __init__(self) -> None:
            self.options = options

        @tomodachi.amqp("otel.go")
        async def handle(self, data: Any) -> None:
            seen.append(data)

    async with run_services(Front, Back, message_broker=None) as app, app.client(Front) as client:
        async with client.get("/go") as response:
            assert response.status == 200
        await wait_until(lambda: seen, within=10, what="the message")
        await wait_until(
            lambda: any(s.kind is SpanKind.CONSUMER for s in telemetry.spans.get_finished_spans()),
            within=5,
            what="the consumer span",
        )
    _check_one_trace(telemetry, "otel.go", "rabbitmq")


@pytest.mark.aws
async def test_a_trace_crosses_two_services_over_sns_sqs(telemetry: Telemetry) -> None:
    prefix = f"test-otel-{uuid.uuid4().hex[:8]}-"
    seen: list[Any] = []
    with moto_server() as url:
        options = tomodachi.Options(
            aws_sns_sqs={
                "region_name": "eu-west-1",
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "topic_prefix": prefix,
                "queue_name_prefix": prefix,
            },
            aws_endpoint_urls={"sns": url, "sqs": url, "sts": url},
        )

        class Front(tomodachi.Service):
            name = "front"
            message_envelope = tomodachi.envelope.JsonBase

            def __init__(self) -> None:
                self.options = options

            @tomodachi.http("GET", r"/go")
            async def go(self) -> str:
                await tomodachi.aws_sns_sqs_publish(self, {"n": 1}, "otel-go")
                return "ok"

        class Back(tomodachi.Service):
            name = "back"
            message_envelope = tomodachi.envelope.JsonBase

            def __init__(self) -> None:
                self.options = options

            @tomodachi.aws_sns_sqs("otel-go", queue_name="otel-back")
            async def handle(self, data: Any) -> None:
                seen.append(data)

        async with run_services(Front, Back, message_broker=None) as app, app.client(Front) as client:
            async with client.get("/go") as response:
                assert response.status == 200
            await wait_until(lambda: seen, within=15, what="the message")
            await wait_until(
                lambda: any(s.kind is SpanKind.CONSUMER for s in telemetry.spans.get_finished_spans()),
                within=5,
                what="the consumer span",
            )
    _check_one_trace(telemetry, "otel-go", "aws_sqs")
