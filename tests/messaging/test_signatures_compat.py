"""Handler and middleware signatures written for the original tomodachi, on the in-memory broker.

No message may be lost to a signature mismatch: what a handler or middleware cannot accept is
a start-up error naming it; everything else is delivered.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import tomodachi
from tomodachi.container import StartupError
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services


async def test_middleware_with_service_positional_and_kwargs_gets_transport_keywords_only() -> None:
    """``mw(func, service, message, topic, **kwargs)`` with JsonBase: no "multiple values for 'service'"."""
    seen: dict[str, Any] = {}
    handled: list[Any] = []

    async def mw(
        func: Callable[..., Awaitable[Any]], service: Any, message: Any, topic: str, **kwargs: Any
    ) -> None:
        seen.update(service=service, topic=topic, kwargs=kwargs)
        await func()

    class Orders(tomodachi.Service):
        name = "orders"
        message_envelope = JsonBase
        message_middleware = [mw]

        @tomodachi.aws_sns_sqs("order.created")
        async def on_order(self, data: Any, metadata: Any, service: Any, topic: str) -> None:
            handled.append((data, metadata["topic"], service["name"], topic))

    async with run_services(Orders) as app:
        delivery = await app.publish("order.created", {"id": 7})
        assert (await delivery.outcome()).handled
        instance = app.service
    assert handled == [({"id": 7}, "order.created", "orders", "order.created")]
    assert seen["service"] is instance
    assert seen["topic"] == "order.created"
    # Transport keywords only: the envelope's keys go to the handler, not to middlewares.
    assert {"data", "metadata", "service"}.isdisjoint(seen["kwargs"])
    assert {"message_uuid", "receipt_handle", "queue_url", "message_attributes"} <= set(seen["kwargs"])


def _generator_middleware(body: Callable[..., Iterator[Awaitable[Any]]]) -> Callable[..., Awaitable[Any]]:
    """The original's documented pattern: a generator made a middleware with ``functools.wraps``."""
    manager = contextmanager(body)

    @functools.wraps(body)
    async def middleware(
        func: Callable[..., Awaitable[Any]], service: Any, *args: Any, **kwargs: Any
    ) -> None:
        with manager(func, service, *args, **kwargs) as call:
            await call

    return middleware


@_generator_middleware
def start_count(
    func: Callable[..., Any], _: Any, *, message_attributes: dict[str, Any] | None
) -> Iterator[Any]:
    start = int((message_attributes or {}).get("start", 1))  # AMQP has no message attributes
    yield func(start=start, total=start, trail=["start_count"])


@_generator_middleware
def double(
    func: Callable[..., Any], _: Any, *, total: int = 0, trail: list[str] | None = None
) -> Iterator[Any]:
    yield func(doubled=True, total=total * 2, trail=[*(trail or []), "double"])


@_generator_middleware
def triple(func: Callable[..., Any], _: Any, total: int = 0, **kwargs: Any) -> Iterator[Any]:
    # **kwargs gets every transport keyword and earlier extras, never the envelope's keys.
    assert "data" not in kwargs and "service" not in kwargs
    yield func(tripled=kwargs.get("doubled", False), total=total * 3, trail=[*kwargs["trail"], "triple"])


async def last(
    func: Callable[..., Any], *, message_uuid: str, message: dict[str, Any], trail: list[str]
) -> None:
    assert message["metadata"]["message_uuid"] == message_uuid
    await func(trail=[*trail, "last"])


@pytest.mark.parametrize("family", ["aws_sns_sqs", "amqp"])
async def test_chained_middlewares_pass_extra_keywords_to_the_handler(family: str) -> None:
    received: list[dict[str, Any]] = []
    on_family = tomodachi.aws_sns_sqs if family == "aws_sns_sqs" else tomodachi.amqp

    class Billing(tomodachi.Service):
        name = "billing"
        message_envelope = JsonBase
        message_middleware = [start_count, double, triple, last]

        @on_family("invoice.paid")
        async def on_paid(
            self,
            data: Any,
            start: int,
            doubled: bool,
            tripled: bool,
            total: int = 0,
            untouched: int = 42,
            *,
            trail: list[str],
        ) -> None:
            received.append(
                dict(
                    data=data,
                    start=start,
                    doubled=doubled,
                    tripled=tripled,
                    total=total,
                    untouched=untouched,
                    trail=trail,
                )
            )

    async with run_services(Billing) as app:
        if family == "aws_sns_sqs":
            delivery = await app.publish("invoice.paid", "inv-1", message_attributes={"start": 5})
        else:
            delivery = await app.publish_amqp("invoice.paid", "inv-1")
        assert (await delivery.outcome()).handled
    start = 5 if family == "aws_sns_sqs" else 1
    assert received == [
        dict(
            data="inv-1",
            start=start,
            doubled=True,
            tripled=True,
            total=start * 6,
            untouched=42,
            trail=["start_count", "double", "triple", "last"],
        )
    ]


async def test_middleware_extras_cannot_override_transport_values() -> None:
    topics: list[str] = []

    async def liar(func: Callable[..., Awaitable[Any]]) -> None:
        await func(topic="not-the-topic")

    class Svc(tomodachi.Service):
        name = "svc"
        message_middleware = [liar]

        @tomodachi.aws_sns_sqs("real.topic")
        async def handler(self, message: str, topic: str) -> None:
            topics.append(topic)

    async with run_services(Svc) as app:
        assert (await (await app.publish("real.topic", "x")).outcome()).handled
    assert topics == ["real.topic"]


async def test_middleware_requiring_a_keyword_nobody_provides_gets_none() -> None:
    tenants: list[Any] = []

    async def needs_tenant(func: Callable[..., Awaitable[Any]], *, tenant: str) -> None:
        tenants.append(tenant)
        await func()

    class Svc(tomodachi.Service):
        name = "svc"
        message_middleware = [needs_tenant]

        @tomodachi.amqp("thing.done")
        async def handler(self, message: str) -> None:
            pass

    async with run_services(Svc) as app:
        assert (await (await app.publish_amqp("thing.done", "x")).outcome()).handled
    assert tenants == [None]


async def test_middleware_that_cannot_take_the_call_fails_start_up_naming_handler_and_middleware() -> None:
    async def greedy(func: Any, a: Any, b: Any, c: Any, d: Any, e: Any, /) -> None:  # 6 positional-only
        await func()

    class Svc(tomodachi.Service):
        name = "svc"
        message_middleware = [greedy]

        @tomodachi.amqp("thing.done")
        async def handler(self, message: str) -> None:
            pass

    with pytest.raises(StartupError) as raised:
        async with run_services(Svc):
            pass
    text = str(raised.value)
    assert "handler" in text and "greedy" in text and "\n" not in text


async def test_middleware_that_is_not_callable_fails_start_up() -> None:
    class Svc(tomodachi.Service):
        name = "svc"
        message_middleware = ["not a middleware"]

        @tomodachi.aws_sns_sqs("thing.done")
        async def handler(self, message: str) -> None:
            pass

    with pytest.raises(StartupError, match="not callable"):
        async with run_services(Svc):
            pass


class MessageEvent:
    def __init__(self, data: Any, topic: str, sns_message_id: str) -> None:
        self.data, self.topic, self.sns_message_id = data, topic, sns_message_id


def on_event(topic: str, **decorator_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """A user's own decorator: a fixed-signature adapter made with functools.wraps."""

    def wrap(func: Callable[..., Any]) -> Any:
        @tomodachi.aws_sns_sqs(topic, **decorator_kwargs)
        @functools.wraps(func)
        async def adapter(self: Any, data: Any, topic: str, sns_message_id: str) -> None:
            await func(self, event=MessageEvent(data, topic, sns_message_id))

        return adapter

    return wrap


async def test_wrapped_handler_is_injected_by_the_adapters_own_signature() -> None:
    events: list[MessageEvent] = []

    class Svc(tomodachi.Service):
        name = "svc"
        message_envelope = JsonBase

        @on_event("event.one")
        async def handle(self, event: MessageEvent, *args: Any, **kwargs: Any) -> None:
            assert not args and not kwargs
            events.append(event)

        @on_event("event.two", competing=True)
        async def handle_two(self, event: MessageEvent) -> None:
            events.append(event)

    async with run_services(Svc) as app:
        for topic in ("event.one", "event.two"):
            assert (await (await app.publish(topic, f"payload-{topic}")).outcome()).handled
    assert sorted((e.topic, e.data) for e in events) == [
        ("event.one", "payload-event.one"),
        ("event.two", "payload-event.two"),
    ]
    assert all(e.sns_message_id for e in events)


async def test_pass_through_wrapper_with_args_kwargs_gets_every_value() -> None:
    seen: list[dict[str, Any]] = []

    def logged(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return await func(*args, **kwargs)

        return wrapper

    class Svc(tomodachi.Service):
        name = "svc"

        @tomodachi.amqp("thing.done")
        @logged
        async def handler(self, **kwargs: Any) -> None:
            pass

    async with run_services(Svc) as app:
        assert (await (await app.publish_amqp("thing.done", "raw")).outcome()).handled
    assert seen and seen[0]["message"] == "raw" and seen[0]["routing_key"] == "thing.done"


async def test_tomodachi_decorator_keeps_injecting_by_the_handlers_parameters() -> None:
    calls: list[tuple[Any, bool]] = []

    @tomodachi.decorator
    async def only_json(self: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        return None if isinstance(data, dict) else False

    class Svc(tomodachi.Service):
        name = "svc"
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("doc.saved")
        @only_json
        async def handler(self, data: Any, receipt_handle: str) -> None:
            calls.append((data["id"], bool(receipt_handle)))

    async with run_services(Svc) as app:
        assert (await (await app.publish("doc.saved", {"id": 1})).outcome()).handled
        assert (await (await app.publish("doc.saved", "not json")).outcome()).handled
    assert calls == [(1, True)]
