"""Publishing and sending on AWS (moto): every parameter, attributes, errors."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest

import tomodachi
from tomodachi.container import StartupError
from tomodachi.envelope import JsonBase
from tomodachi.transport.aws_sns_sqs import (
    AWSSNSSQSConnectionException,
    AWSSNSSQSException,
    QueueDoesNotExistError,
)

pytestmark = pytest.mark.aws

SECRET = "moto-secret-never-logged"  # the secret conftest configures

ATTRIBUTES = {"n": 1, "f": 1.5, "s": "text", "b": True, "none": None, "l": ["a", 1], "bin": b"\x00\x01\xff"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def inbox_service(options: Any, got: list[dict[str, Any]], **decorator: Any) -> type[tomodachi.Service]:
    class Service(tomodachi.Service):
        name = "inbox"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs(**decorator)
        async def handler(
            self,
            message: Any,
            data: Any,
            topic: str,
            message_type: str,
            message_attributes: dict[str, Any],
            sqs_message_id: str,
            message_group_id: str | None,
        ) -> None:
            got.append(dict(locals()))

    Service.options = options
    return Service


async def test_sqs_send_message_with_every_parameter(
    make_options: Any, serve: Any, wait_until: Any, prefix: str
) -> None:
    got: list[dict[str, Any]] = []
    async with serve(inbox_service(make_options(), got, queue_name="inbox")) as running:
        message_id = await tomodachi.sqs_send_message(
            running.service, {"hello": "world"}, "inbox", message_attributes=ATTRIBUTES, delay_seconds=0
        )
        await wait_until(lambda: got, 10, "the message")
        (call,) = got
        assert call["data"] == {"hello": "world"}
        assert call["topic"] == ""
        assert call["message_type"] == "Message"
        assert call["sqs_message_id"] == message_id
        assert call["message_attributes"] == ATTRIBUTES

        # By URL, by ARN, and in the background (wait=False).
        url = await _queue_url(running.service, prefix + "inbox")
        await tomodachi.sqs_send_message(running.service, {"by": "url"}, url)
        arn = f"arn:aws:sqs:eu-west-1:123456789012:{prefix}inbox"
        task = await tomodachi.sqs_send_message(running.service, {"by": "arn"}, arn, wait=False)
        assert isinstance(task, asyncio.Task)
        assert isinstance(await task, str)
        await wait_until(lambda: len(got) == 3, 10, "three messages")
        assert sorted(json.dumps(c["data"]) for c in got[1:]) == ['{"by": "arn"}', '{"by": "url"}']


async def _queue_url(service: Any, name: str) -> str:
    from tomodachi.runtime import current_runtime
    from tomodachi.transport.aws_sns_sqs.client import client_for

    runtime = current_runtime()
    assert runtime is not None
    return await client_for(service, runtime).queue_url(name)


async def test_sqs_send_message_verbatim_body_and_fifo(
    make_options: Any, serve: Any, wait_until: Any
) -> None:
    raw: list[tuple[str, str | None]] = []

    class Service(tomodachi.Service):
        name = "verbatim"
        options = make_options()

        @tomodachi.aws_sns_sqs(queue_name="lines.fifo", fifo=True, message_envelope=None)
        async def handler(self, line: str, message_group_id: str, message_deduplication_id: str) -> None:
            raw.append((line, message_group_id))

    async with serve(Service) as running:
        for n in range(3):
            await tomodachi.sqs_send_message(
                running.service, f"line {n}", "lines.fifo", group_id="g", message_body_formatter=None,
                deduplication_id=f"d{n}",
            )  # fmt: skip
        await wait_until(lambda: len(raw) == 3, 10, "three lines")
    assert raw == [("line 0", "g"), ("line 1", "g"), ("line 2", "g")]


async def test_sqs_send_message_to_a_missing_queue(make_options: Any, serve: Any) -> None:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    async with serve(inbox_service(make_options(), [], queue_name="exists")) as running:
        with pytest.raises(QueueDoesNotExistError) as failure:
            await tomodachi.sqs_send_message(running.service, {}, "does-not-exist")
    assert isinstance(failure.value, ClientError)  # as in the original: also botocore's error
    assert isinstance(failure.value, AWSSNSSQSException)
    assert "does-not-exist' does not exist" in str(failure.value)


async def test_publish_message_attributes_round_trip_and_fifo(
    make_options: Any, serve: Any, wait_until: Any
) -> None:
    got: list[dict[str, Any]] = []
    fifo: list[dict[str, Any]] = []

    class Service(tomodachi.Service):
        name = "attributes"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("attrs", competing=True)
        async def handler(self, data: Any, message_attributes: dict[str, Any]) -> None:
            got.append(message_attributes)

        @tomodachi.aws_sns_sqs("attrs", competing=True, fifo=True)
        async def ordered(self, data: Any, message_group_id: str, message_deduplication_id: str) -> None:
            fifo.append({"group": message_group_id, "dedup": message_deduplication_id, "data": data})

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, {}, "attrs", message_attributes=ATTRIBUTES)
        await tomodachi.aws_sns_sqs_publish(
            running.service, 1, "attrs", group_id="g1", deduplication_id="dd1"
        )
        await wait_until(lambda: got and fifo, 10, "both messages")
    assert got == [ATTRIBUTES]
    assert fifo == [{"group": "g1", "dedup": "dd1", "data": 1}]


async def test_publish_topic_attributes_and_overwrite(
    make_options: Any, serve: Any, boto: Any, prefix: str
) -> None:
    async with serve(inbox_service(make_options(), [], queue_name="x")) as running:
        await tomodachi.aws_sns_sqs_publish(
            running.service, {}, "branded", topic_attributes={"DisplayName": "first"}
        )
    arn = f"arn:aws:sns:eu-west-1:123456789012:{prefix}branded"
    assert (await boto.sns.get_topic_attributes(TopicArn=arn))["Attributes"]["DisplayName"] == "first"
    async with serve(inbox_service(make_options(), [], queue_name="x")) as running:
        await tomodachi.aws_sns_sqs_publish(
            running.service, {}, "branded", topic_attributes='{"DisplayName": "second"}',
            overwrite_topic_attributes=True,
        )  # fmt: skip
    assert (await boto.sns.get_topic_attributes(TopicArn=arn))["Attributes"]["DisplayName"] == "second"


async def test_publish_without_managing_topology(
    make_options: Any, serve: Any, boto: Any, prefix: str
) -> None:
    options = make_options(**{"aws_sns_sqs.manage_topology": False})
    await boto.sqs.create_queue(QueueName=prefix + "q")
    async with serve(inbox_service(options, [], queue_name="q")) as running:
        with pytest.raises(AWSSNSSQSException, match=f"SNS topic '{prefix}missing' does not exist"):
            await tomodachi.aws_sns_sqs_publish(running.service, {}, "missing")
        await boto.topic_arn(prefix + "present")
        assert await tomodachi.aws_sns_sqs_publish(running.service, {}, "present")


async def test_publish_to_an_unreachable_endpoint_fails_clearly(
    make_options: Any, serve: Any, moto_url: str, prefix: str
) -> None:
    options = make_options()
    async with serve(inbox_service(options, [], queue_name="reachable")) as running:
        running.service.options.aws_endpoint_urls.sns = f"http://127.0.0.1:{closed_port()}"
        started = time.monotonic()
        with pytest.raises(AWSSNSSQSConnectionException) as failure:
            await tomodachi.aws_sns_sqs_publish(running.service, {}, "anything")
        assert time.monotonic() - started < 10
    message = str(failure.value)
    assert "cannot reach http://127.0.0.1:" in message
    assert SECRET not in message and "\n" not in message


async def test_start_up_with_an_unreachable_endpoint_fails_with_one_line(
    make_options: Any, serve: Any
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    options = make_options(
        **{"aws_endpoint_urls.sns": url, "aws_endpoint_urls.sqs": url, "aws_endpoint_urls.sts": url}
    )
    started = time.monotonic()
    with pytest.raises(StartupError) as failure:
        async with serve(inbox_service(options, [], topic="t")):
            pass
    assert time.monotonic() - started < 10
    message = str(failure.value)
    assert f"cannot reach {url}" in message, message
    assert SECRET not in message and "\n" not in message
