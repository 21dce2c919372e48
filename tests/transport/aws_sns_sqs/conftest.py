"""The AWS SNS+SQS backend against moto's server, started once per test session.

Every test gets its own topic and queue prefix (:func:`aws_options`), so tests never see each
other's topics or queues and moto needs no reset between them. ``wait_until``, ``json_logs`` and
``spawn`` are the shared fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import tomodachi
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime

pytest.importorskip("aiobotocore")
pytest.importorskip("moto.server")

REGION = "eu-west-1"
ACCESS_KEY_ID = "AKIDTESTING"
SECRET = "moto-secret-never-logged"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """The URL of a moto server (SNS, SQS, STS) on 127.0.0.1 and a free port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def options_for(url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "aws_sns_sqs.region_name": REGION,
        "aws_sns_sqs.aws_access_key_id": ACCESS_KEY_ID,
        "aws_sns_sqs.aws_secret_access_key": SECRET,
        "aws_sns_sqs.topic_prefix": prefix,
        "aws_sns_sqs.queue_name_prefix": prefix,
        "aws_endpoint_urls.sns": url,
        "aws_endpoint_urls.sqs": url,
        "aws_endpoint_urls.sts": url,
        **extra,
    }


@pytest.fixture
def prefix() -> str:
    """A topic and queue name prefix of this test only."""
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def make_options(moto_url: str, prefix: str) -> Callable[..., tomodachi.Options]:
    """``make_options(**extra)``: this test's options plus *extra* (dotted keys)."""
    return lambda **extra: tomodachi.Options(**options_for(moto_url, prefix, **extra))


@pytest.fixture
def aws_options(moto_url: str, prefix: str) -> tomodachi.Options:
    """Service options pointing at the moto server, with this test's prefixes."""
    return tomodachi.Options(**options_for(moto_url, prefix))


class Running:
    def __init__(self, runtime: Runtime, container: ServiceContainer) -> None:
        self.runtime = runtime
        self.container = container
        self.service: Any = container.instances[0]


@contextlib.asynccontextmanager
async def serve_classes(*classes: type[tomodachi.Service], stop: bool = True) -> AsyncIterator[Running]:
    """Run *classes* in a real container (set up, start, stop, close the run's clients)."""
    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer(classes, runtime)
    try:
        await container.setup()
        await container.start()
        yield Running(runtime, container)
    finally:
        if stop:
            await container.stop()
            await runtime.aclose()


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    return serve_classes


class Boto:
    """Plain aiobotocore clients on the moto server, to arrange and inspect state in tests."""

    def __init__(self, sns: Any, sqs: Any, sts: Any) -> None:
        self.sns, self.sqs, self.sts = sns, sqs, sts

    async def queue_url(self, name: str) -> str:
        return str((await self.sqs.get_queue_url(QueueName=name))["QueueUrl"])

    async def queue_attributes(self, name: str) -> dict[str, str]:
        url = await self.queue_url(name)
        response = await self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return dict(response["Attributes"])

    async def topic_arn(self, name: str) -> str:
        return str((await self.sns.create_topic(Name=name))["TopicArn"])

    async def drain(self, name: str, *, wait: int = 0) -> list[dict[str, Any]]:
        """Receive (and delete) every visible message of queue *name*."""
        url = await self.queue_url(name)
        messages: list[dict[str, Any]] = []
        while True:
            response = await self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            batch = response.get("Messages") or []
            if not batch:
                return messages
            messages.extend(batch)
            for message in batch:
                await self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
async def boto(moto_url: str) -> AsyncIterator[Boto]:
    from aiobotocore.session import get_session

    session = get_session()
    kwargs = {
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET,
        "endpoint_url": moto_url,
    }
    async with (
        session.create_client("sns", **kwargs) as sns,
        session.create_client("sqs", **kwargs) as sqs,
        session.create_client("sts", **kwargs) as sts,
    ):
        yield Boto(sns, sqs, sts)
