"""Message middlewares on SNS+SQS handlers: the README signature, the original's middleware test
chain (keyword-only ``message_attributes`` through a ``functools.wraps`` decorator) for a topic
and for a queue fed by ``sqs_send_message``, and the ``*args`` pass-through of the original's
example service. One service class per style; the process exits when all have reported."""

import asyncio
import functools
import json
import os
import uuid
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Dict, Generator, List, Optional

import tomodachi
from tomodachi import Options, aws_sns_sqs, aws_sns_sqs_publish, sqs_send_message
from tomodachi.envelope import JsonBase

PENDING = set()


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


async def readme_middleware(
    func: Callable, service: Any, message: Any, topic: str, context: Dict, *args: Any, **kwargs: Any
) -> Any:
    service.calls.append(("readme", topic, sorted(kwargs)))
    return await func(*args, **kwargs)


def middleware_decorator(
    middleware_func: Callable[..., Generator[Awaitable, None, None]],
) -> Callable[..., Awaitable]:
    _middleware_func = contextmanager(middleware_func)

    @functools.wraps(middleware_func)
    async def wrapped_middleware_func(func: Callable, service: Any, *args: Any, **kwargs: Any) -> Any:
        with _middleware_func(func, service, *args, **kwargs) as task:
            await task

    return wrapped_middleware_func


@middleware_decorator
def middleware_init(func: Callable, _: Any, *, message_attributes: Dict) -> Generator[Awaitable, None, None]:
    initial_a_value = int(message_attributes.get("initial_a_value", 1))
    yield func(
        initial_a_value=initial_a_value, a_value=initial_a_value, middlewares_called=["middleware_init"]
    )


@middleware_decorator
def middleware_abc(
    func: Callable, _: Any, *, a_value: int = 0, middlewares_called: Optional[List] = None
) -> Generator[Awaitable, None, None]:
    yield func(
        kwarg_abc=4711,
        a_value=a_value * 2,
        middlewares_called=(middlewares_called or []) + ["middleware_abc"],
    )


@middleware_decorator
def middleware_xyz(
    func: Callable, _: Any, a_value: int = 0, **kwargs: Any
) -> Generator[Awaitable, None, None]:
    yield func(
        kwarg_xyz=int(kwargs.get("kwarg_abc", 0)) + 1,
        a_value=a_value * 3,
        middlewares_called=kwargs.get("middlewares_called", []) + ["middleware_xyz"],
    )


async def middleware_last(
    func: Callable,
    *,
    message_uuid: str,
    message: dict,
    topic: str,
    message_attributes: dict,
    middlewares_called: list,
) -> None:
    if not message_uuid or message["metadata"].get("message_uuid") != message_uuid:
        raise ValueError("message_uuid mismatch")
    middlewares_called.append("middleware_last")
    await func()


@middleware_decorator
def passing_positionals(
    func: Callable, *args: Any, message_attributes: Dict
) -> Generator[Awaitable, None, None]:
    # the original's aws_sns_sqs_middleware_service example: positional arguments go back into func
    yield func(*args, attribute_count=len(message_attributes))


class Base(tomodachi.Service):
    message_envelope = JsonBase
    options = Options(
        aws_sns_sqs=Options.AWSSNSSQS(
            region_name=os.environ.get("TOMODACHI_TEST_AWS_REGION"),
            aws_access_key_id=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_SECRET"),
            queue_name_prefix=os.environ.get("TOMODACHI_TEST_SQS_QUEUE_PREFIX") or "",
            topic_prefix=os.environ.get("TOMODACHI_TEST_SNS_TOPIC_PREFIX") or "",
        ),
        aws_endpoint_urls=Options.AWSEndpointURLs(
            sns=os.environ.get("TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL") or None,
            sqs=os.environ.get("TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL") or None,
        ),
    )
    received: Optional[Dict[str, Any]] = None

    def __init__(self) -> None:
        self.calls: List[Any] = []
        self.data_uuid = str(uuid.uuid4())
        PENDING.add(self.name)

    def done(self, **values: Any) -> None:
        if self.received is None:
            self.received = values
            self.got_it.set()

    async def _start_service(self) -> None:
        self.got_it = asyncio.Event()

    async def send(self) -> None:
        raise NotImplementedError

    async def _started_service(self) -> None:
        async def wait_and_report() -> None:
            try:
                await asyncio.wait_for(self.got_it.wait(), 6.0)
            except asyncio.TimeoutError:
                pass
            report(self.name, received=self.received, calls=self.calls)
            PENDING.discard(self.name)
            if not PENDING:
                tomodachi.exit()

        asyncio.ensure_future(wait_and_report())
        await self.send()


class ReadmeStyle(Base):
    name = "readme_style"
    message_middleware = [readme_middleware]

    async def send(self) -> None:
        await aws_sns_sqs_publish(self, self.data_uuid, topic="compat-mw-readme")

    @aws_sns_sqs("compat-mw-readme")
    async def handler(self, data: Any, topic: str) -> None:
        self.done(data_ok=data == self.data_uuid, topic=topic)


CHAIN: List[Callable[..., Awaitable[Any]]] = [
    middleware_init,
    middleware_abc,
    middleware_xyz,
    middleware_last,
]


class ChainOnTopic(Base):
    name = "chain_on_topic"
    message_middleware = CHAIN

    async def send(self) -> None:
        await aws_sns_sqs_publish(
            self,
            self.data_uuid,
            topic="compat-mw-chain",
            message_attributes={"attr_1": "value_1", "initial_a_value": 5},
        )

    @aws_sns_sqs("compat-mw-chain", queue_name="compat-mw-chain-{}".format(uuid.uuid4().hex))
    async def handler(
        self,
        data: Any,
        kwarg_abc: int,
        kwarg_xyz: int,
        message_attributes: Dict,
        initial_a_value: int,
        topic: str,
        a_value: int = 0,
        another_value: int = 42,
        queue_url: str = "",
        receipt_handle: str = "",
        approximate_receive_count: int = 0,
        message_deduplication_id: Optional[str] = "not injected",
        *,
        middlewares_called: List[str],
    ) -> None:
        self.done(
            data_ok=data == self.data_uuid,
            kwarg_abc=kwarg_abc,
            kwarg_xyz=kwarg_xyz,
            initial_a_value=initial_a_value,
            a_value=a_value,
            another_value=another_value,
            topic=topic,
            message_attributes=message_attributes,
            has_queue_url=bool(queue_url),
            has_receipt_handle=bool(receipt_handle),
            approximate_receive_count=approximate_receive_count,
            message_deduplication_id=message_deduplication_id,
            middlewares_called=middlewares_called,
        )


class ChainOnQueue(Base):
    """The same chain for a queue fed by sqs_send_message (no topic)."""

    name = "chain_on_queue"
    message_middleware = CHAIN
    queue = "compat-mw-direct-{}".format(uuid.uuid4().hex)

    async def send(self) -> None:
        await sqs_send_message(
            self, self.data_uuid, queue_name=self.queue, message_attributes={"initial_a_value": 7}
        )

    @aws_sns_sqs(queue_name=queue)
    async def handler(
        self,
        data: Any,
        kwarg_abc: int,
        kwarg_xyz: int,
        message_attributes: Dict,
        initial_a_value: int,
        topic: str,
        message_type: str,
        a_value: int = 0,
        *,
        middlewares_called: List[str],
    ) -> None:
        self.done(
            data_ok=data == self.data_uuid,
            kwarg_abc=kwarg_abc,
            kwarg_xyz=kwarg_xyz,
            initial_a_value=initial_a_value,
            a_value=a_value,
            topic=topic,
            message_type=message_type,
            middlewares_called=middlewares_called,
        )


class PositionalPassThrough(Base):
    name = "positional_pass_through"
    message_middleware = [passing_positionals]

    async def send(self) -> None:
        await aws_sns_sqs_publish(self, self.data_uuid, "compat-mw-positional", message_attributes={"a": 1})

    @aws_sns_sqs("compat-mw-positional")
    async def handler(self, data: Any, attribute_count: int = 0) -> None:
        self.done(data_ok=data == self.data_uuid, attribute_count=attribute_count)
