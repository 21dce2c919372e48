"""Message middlewares on AMQP handlers, in the signature styles the original's docs, examples
and users rely on (reference section 8). One service class per style, so one style failing
does not hide another; each reports what its handler received, then the process exits."""

import asyncio
import functools
import json
import os
import uuid
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Dict, Generator, List, Optional

import tomodachi
from tomodachi import Options, amqp, amqp_publish
from tomodachi.envelope import JsonBase
from tomodachi.transport.amqp import AmqpInternalServiceError

PREFIX = os.environ.get("COMPAT_AMQP_PREFIX", "")
PENDING = set()


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


# -- the README / examples style: every positional argument, then *args and **kwargs ---------
async def readme_middleware(
    func: Callable, service: Any, message: Any, routing_key: str, context: Dict, *args: Any, **kwargs: Any
) -> Any:
    context["readme_before"] = True
    service.calls.append("readme_middleware:before")
    return_value = await func(*args, **kwargs)
    service.calls.append("readme_middleware:after")
    return return_value


# -- a contextmanager-based decorator that passes its positional arguments on to func --------
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
def passing_positionals(func: Callable, *args: Any, routing_key: str) -> Generator[Awaitable, None, None]:
    # args is (service, message, routing_key, context); they go back into func, as in the
    # original's aws_sns_sqs_middleware_service example
    yield func(*args[1:], seen_routing_key=routing_key)


# -- the chain from the original's middleware test: extras flow from one middleware to the next
@middleware_decorator
def chain_init(func: Callable, _: Any, *, routing_key: str) -> Generator[Awaitable, None, None]:
    yield func(initial_a_value=5, a_value=5, middlewares_called=["chain_init"])


@middleware_decorator
def chain_abc(
    func: Callable, _: Any, *, a_value: int = 0, middlewares_called: Optional[List] = None
) -> Generator[Awaitable, None, None]:
    yield func(
        kwarg_abc=4711, a_value=a_value * 2, middlewares_called=(middlewares_called or []) + ["chain_abc"]
    )


@middleware_decorator
def chain_xyz(func: Callable, _: Any, a_value: int = 0, **kwargs: Any) -> Generator[Awaitable, None, None]:
    yield func(
        kwarg_xyz=int(kwargs.get("kwarg_abc", 0)) + 1,
        a_value=a_value * 3,
        middlewares_called=kwargs.get("middlewares_called", []) + ["chain_xyz"],
    )


async def chain_last(
    func: Callable, *, message_uuid: str, message: dict, routing_key: str, middlewares_called: list
) -> None:
    if message["metadata"]["message_uuid"] != message_uuid:
        raise ValueError("message_uuid mismatch")
    await func(
        middlewares_called=middlewares_called + ["chain_last"], routing_key="ignored: transport values win"
    )


# -- bound methods, callable objects, keyword-only and sync middlewares ----------------------
class CountingMiddleware:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, func: Callable, service: Any, message: Any) -> Any:
        self.calls += 1
        return await func(object_calls=self.calls)


def sync_middleware(func: Callable, service: Any) -> Any:
    service.calls.append("sync_middleware")
    return func(sync_seen=True)


async def keyword_only_middleware(func: Callable, *, message: Any, routing_key: str, properties: Any) -> Any:
    return await func(keyword_only=[routing_key, sorted(message), properties is not None])


# -- a middleware that rewrites the envelope's data, and one that asks for a retry ------------
async def upper_case_data(func: Callable, service: Any, message: Any) -> Any:
    return await func(data=message["data"].upper())


async def retry_first_delivery(
    func: Callable, service: Any, message: Any, routing_key: str, context: Dict
) -> Any:
    service.middleware_deliveries += 1
    if service.middleware_deliveries == 1:
        raise AmqpInternalServiceError("retry from a middleware")
    return await func()


class Base(tomodachi.Service):
    message_envelope = JsonBase
    options = Options(
        amqp=Options.AMQP(routing_key_prefix=PREFIX, queue_name_prefix=PREFIX, queue_ttl=60),
    )
    routing_key = ""
    received: Optional[Dict[str, Any]] = None

    def __init__(self) -> None:
        self.calls: List[str] = []
        self.data_uuid = str(uuid.uuid4())
        self.middleware_deliveries = 0
        PENDING.add(self.name)

    def done(self, **values: Any) -> None:
        if self.received is None:
            self.received = values
            self.got_it.set()

    async def _start_service(self) -> None:
        self.got_it = asyncio.Event()

    async def _started_service(self) -> None:
        async def wait_and_report() -> None:
            try:
                await asyncio.wait_for(self.got_it.wait(), 4.0)
            except asyncio.TimeoutError:
                pass
            report(self.name, received=self.received, calls=self.calls)
            PENDING.discard(self.name)
            if not PENDING:
                tomodachi.exit()

        asyncio.ensure_future(wait_and_report())
        await amqp_publish(self, self.data_uuid, routing_key=self.routing_key)


class ReadmeStyle(Base):
    name = "readme_style"
    routing_key = "compat.mw.readme"
    message_middleware = [readme_middleware]

    @amqp("compat.mw.readme")
    async def handler(self, data: Any, routing_key: str) -> None:
        self.calls.append("handler")
        self.done(data_ok=data == self.data_uuid, routing_key=routing_key)


class PositionalPassThrough(Base):
    name = "positional_pass_through"
    routing_key = "compat.mw.positional"
    message_middleware = [passing_positionals]

    @amqp("compat.mw.positional")
    async def handler(self, data: Any, seen_routing_key: str = "") -> None:
        self.done(data_ok=data == self.data_uuid, seen_routing_key=seen_routing_key)


class Chain(Base):
    name = "chain"
    routing_key = "compat.mw.chain"
    message_middleware = [chain_init, chain_abc, chain_xyz, chain_last]

    @amqp("compat.mw.chain")
    async def handler(
        self,
        data: Any,
        kwarg_abc: int,
        kwarg_xyz: int,
        initial_a_value: int,
        routing_key: str,
        a_value: int = 0,
        another_value: int = 42,
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
            routing_key=routing_key,
            middlewares_called=middlewares_called,
        )


class Objects(Base):
    name = "objects"
    routing_key = "compat.mw.objects"

    def __init__(self) -> None:
        super().__init__()
        self.counting = CountingMiddleware()
        self.message_middleware = [
            self.bound_middleware,
            self.counting,
            sync_middleware,
            keyword_only_middleware,
        ]

    async def bound_middleware(self, func: Callable, service: Any, message: Any, routing_key: str) -> Any:
        return await func(bound_self_is_service=self is service)

    @amqp("compat.mw.objects")
    async def handler(
        self,
        data: Any,
        bound_self_is_service: bool = False,
        object_calls: int = 0,
        sync_seen: bool = False,
        keyword_only: Any = None,
    ) -> None:
        self.done(
            data_ok=data == self.data_uuid,
            bound_self_is_service=bound_self_is_service,
            object_calls=object_calls,
            sync_seen=sync_seen,
            keyword_only=keyword_only,
        )


class DataOverride(Base):
    name = "data_override"
    routing_key = "compat.mw.data"
    message_middleware = [upper_case_data]

    @amqp("compat.mw.data")
    async def handler(self, data: Any) -> None:
        self.done(data=data, expected=self.data_uuid.upper())


class RetryFromMiddleware(Base):
    name = "retry_from_middleware"
    routing_key = "compat.mw.retry"
    message_middleware = [retry_first_delivery]

    @amqp("compat.mw.retry")
    async def handler(self, data: Any) -> None:
        self.done(data_ok=data == self.data_uuid, deliveries=self.middleware_deliveries)
