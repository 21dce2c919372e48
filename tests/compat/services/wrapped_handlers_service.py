"""Handlers wrapped by user decorators (``functools.wraps``): a fixed-signature SQS adapter that
turns the injected keywords into an event object (as in the original's wrapped invoker test),
a ``(*args, **kwargs)`` pass-through around HTTP and SQS handlers, and stacked routes."""

import asyncio
import functools
import json
import os
import uuid
from typing import Any, Callable, Set

import aiohttp
from aiohttp import web

import tomodachi

data_uuid = str(uuid.uuid4())


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


class MessageEvent:
    def __init__(self, data: Any, topic: str, sns_message_id: str = "") -> None:
        self.data = data
        self.topic = topic
        self.sns_message_id = sns_message_id


def sqs_event_handler(*args: Any, **kwargs: Any) -> Any:
    def _wrap(func: Callable) -> Any:
        @tomodachi.aws_sns_sqs(*args, **kwargs)
        @functools.wraps(func, assigned=("__module__", "__doc__", "__name__", "__qualname__"))
        async def _wrapper(self: Any, data: Any, topic: str, sns_message_id: str) -> None:
            await func(self, event=MessageEvent(data, topic, sns_message_id))

        return _wrapper

    return _wrap


def traced(func: Callable) -> Callable:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        args[0].traced.append(func.__name__)
        return await func(*args, **kwargs)

    return wrapper


class Service(tomodachi.Service):
    name = "compat_wrapped"
    message_envelope = tomodachi.envelope.JsonBase
    options = tomodachi.Options(
        http=tomodachi.Options.HTTP(port=0),
        aws_sns_sqs=tomodachi.Options.AWSSNSSQS(
            region_name=os.environ.get("TOMODACHI_TEST_AWS_REGION"),
            aws_access_key_id=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_SECRET"),
            queue_name_prefix=os.environ.get("TOMODACHI_TEST_SQS_QUEUE_PREFIX") or "",
            topic_prefix=os.environ.get("TOMODACHI_TEST_SNS_TOPIC_PREFIX") or "",
        ),
        aws_endpoint_urls=tomodachi.Options.AWSEndpointURLs(
            sns=os.environ.get("TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL") or None,
            sqs=os.environ.get("TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL") or None,
        ),
    )

    closer: asyncio.Future
    test_received_from_topics: Set[str]
    traced_message: Any = None
    adapted_event: Any = None
    http_responses: Any = None
    data_uuid = data_uuid

    def check_closer(self) -> None:
        if all(
            [
                len(self.test_received_from_topics) == 2,
                self.traced_message,
                self.adapted_event,
                self.http_responses,
            ]
        ):
            if not self.closer.done():
                self.closer.set_result(None)

    @tomodachi.http("GET", r"/x/(?P<value1>[^/]+)/?")
    @tomodachi.http("GET", r"/y(?P<value1>[^/]+)/(?P<value2>[^/]+)/?")
    @tomodachi.http("GET", r"/z/?")
    async def multi_http_request_handler(
        self, request: web.Request, value1: str = "", value2: str = ""
    ) -> str:
        return "{} {} {}".format(request.path, value1, value2)

    @tomodachi.http("GET", r"/traced/(?P<id>[^/]+)/?")
    @traced
    async def traced_http(self, request: web.Request, id: str) -> str:
        return "traced {} {}".format(request.path, id)

    @sqs_event_handler("compat-wrapped", queue_name="compat-wrapped-{}".format(data_uuid))
    @sqs_event_handler("compat-wrapped-2", queue_name="compat-wrapped-2-{}".format(data_uuid))
    async def sqs_handler(self, event: MessageEvent, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise Exception("function should be called without any additional arguments")
        if not event.sns_message_id or not event.topic:
            raise Exception("event should include sns_message_id and topic")
        if event.topic not in self.test_received_from_topics and event.data == self.data_uuid:
            self.test_received_from_topics.add(event.topic)
            self.check_closer()

    @sqs_event_handler("compat-adapted")
    async def adapted(self, event: MessageEvent) -> None:
        if event.data == self.data_uuid:
            self.adapted_event = [event.topic, bool(event.sns_message_id)]
            self.check_closer()

    @tomodachi.aws_sns_sqs("compat-traced")
    @traced
    async def traced_sqs(self, data: Any, topic: str, **kwargs: Any) -> None:
        if data == self.data_uuid:
            self.traced_message = [data == self.data_uuid, topic]
            self.check_closer()

    async def _start_service(self) -> None:
        self.closer = asyncio.Future()
        self.test_received_from_topics = set()
        self.traced = []

    async def _started_service(self) -> None:
        async def _async() -> None:
            async def sleep_and_kill() -> None:
                await asyncio.sleep(8.0)
                if not self.closer.done():
                    self.closer.set_result(None)

            task = asyncio.ensure_future(sleep_and_kill())
            await self.closer
            if not task.done():
                task.cancel()
            report(
                "wrapped",
                topics=sorted(self.test_received_from_topics),
                traced_message=self.traced_message,
                adapted_event=self.adapted_event,
                http=self.http_responses,
                traced=sorted(set(self.traced)),
            )
            tomodachi.exit()

        asyncio.ensure_future(_async())

        for topic in ("compat-wrapped", "compat-wrapped-2", "compat-traced", "compat-adapted"):
            await tomodachi.aws_sns_sqs_publish(self, self.data_uuid, topic=topic)

        async def _http_requester() -> None:
            port = self.context["_http_port"]
            responses = {}
            async with aiohttp.ClientSession() as client:
                for path in ("/x/4711", "/ytest/0", "/z", "/traced/17"):
                    async with client.get("http://127.0.0.1:{}{}".format(port, path)) as response:
                        responses[path] = [response.status, await response.text()]
            self.http_responses = responses
            self.check_closer()

        asyncio.ensure_future(_http_requester())
