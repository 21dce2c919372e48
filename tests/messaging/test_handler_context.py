"""Inside a message handler, ``tomodachi.get_logger()`` is the handler's logger, and what one
delivery binds stays with it (each delivery runs in a task of its own, from the same context)."""

from __future__ import annotations

from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services


class Bindings(tomodachi.Service):
    name = "bindings"
    message_envelope = JsonBase
    seen: list[dict[str, Any]]

    def __init__(self) -> None:
        self.seen = []

    @tomodachi.amqp("context.test")
    async def on_message(self, data: Any) -> None:
        logger = tomodachi.get_logger()
        # what an earlier delivery bound must not be here
        self.seen.append({"name": logger.name, "context": dict(logger._context)})
        tomodachi.get_logger().bind(earlier=data)


async def test_the_context_logger_is_the_handlers_and_bindings_do_not_leak_between_deliveries() -> None:
    async with run_services(Bindings) as running:
        for n in range(3):
            report = await (await running.publish_amqp("context.test", n)).outcome()
            assert report.handled
        service = running.service
        assert isinstance(service, Bindings)
        seen = service.seen
    assert [entry["name"] for entry in seen] == ["tomodachi.amqp.handler"] * 3
    assert all(entry["context"] == {"handler": "on_message"} for entry in seen)


class SnsBindings(Bindings):
    name = "sns-bindings"

    @tomodachi.aws_sns_sqs("context-test")
    async def on_sns(self, data: Any) -> None:
        await self.on_message(data)


async def test_the_same_for_sns_sqs_handlers() -> None:
    async with run_services(SnsBindings) as running:
        for n in range(3):
            report = await (await running.publish("context-test", n)).outcome(handler="on_sns")
            assert report.handled
        service = running.service
        assert isinstance(service, SnsBindings)
        seen = service.seen
    assert [entry["name"] for entry in seen] == ["tomodachi.aws_sns_sqs.handler"] * 3
    assert all(entry["context"] == {"handler": "on_sns"} for entry in seen)
