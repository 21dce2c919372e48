"""The AWS SNS+SQS backend against moto's server, started once per test session.

Every test gets its own topic and queue prefix (:func:`aws_options`), so tests never see each
other's topics or queues and moto needs no reset between them. ``wait_until``, ``json_logs`` and
``spawn`` are the shared fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi
from tests._moto_support import moto_server
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime

REGION = "eu-west-1"
ACCESS_KEY_ID = "AKIDTESTING"
SECRET = "moto-secret-never-logged"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """The URL of a moto server (SNS, SQS, STS) on 127.0.0.1 and a free port."""
    with moto_server() as url:
        yield url


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


class AwsProxy:
    """A real HTTP hop between the services under test and moto.

    It records every AWS operation that passes (``calls``: snake_case name and parameters) and
    can answer some with an AWS error (``fail``), so tests observe and disturb the transport at
    the network boundary instead of patching our own code.
    """

    _HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

    def __init__(self, target: str) -> None:
        self.target = target
        self.url = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._failures: dict[str, tuple[int, str]] = {}
        self._session: aiohttp.ClientSession | None = None

    def fail(self, operation: str, times: int, code: str = "ThrottlingException") -> None:
        """Answer the next *times* calls of *operation* (snake_case) with the AWS error *code*."""
        self._failures[operation] = (times, code)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        operation, params = _operation(request.headers.get("X-Amz-Target"), body)
        self.calls.append((operation, params))
        times, code = self._failures.get(operation, (0, ""))
        if times > 0:
            self._failures[operation] = (times - 1, code)
            return web.Response(
                status=400,
                body=json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": "injected by the test"}),
                headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "x-amzn-query-error": f"{code};Sender",
                },
            )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in self._HOP_HEADERS}
        async with self._session.request(
            request.method, self.target + request.path_qs, headers=headers, data=body
        ) as upstream:
            payload = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in self._HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=kept)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AwsProxy]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        try:
            yield self
        finally:
            await runner.cleanup()
            await self._session.close()


def _operation(target: str | None, body: bytes) -> tuple[str, dict[str, Any]]:
    """The snake_case operation and parameters of an SQS (JSON) or SNS/STS (query) request."""
    if target:  # JSON protocol: "X-Amz-Target: AmazonSQS.ReceiveMessage"
        name, params = target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    else:  # query protocol: "Action=CreateTopic&Name=..."
        form = urllib.parse.parse_qs(body.decode("utf-8"))
        params = {key: values[0] for key, values in form.items()}
        name = params.pop("Action", "")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(), params


@pytest.fixture
async def aws_proxy(moto_url: str) -> AsyncIterator[AwsProxy]:
    """An :class:`AwsProxy` in front of the moto server, for this test."""
    async with AwsProxy(moto_url).running() as proxy:
        yield proxy


@pytest.fixture
def proxied_options(aws_proxy: AwsProxy, prefix: str) -> Callable[..., tomodachi.Options]:
    """Like ``make_options``, with every AWS endpoint behind :func:`aws_proxy`."""
    return lambda **extra: tomodachi.Options(**options_for(aws_proxy.url, prefix, **extra))


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
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

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
