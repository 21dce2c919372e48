"""Inside a message handler, ``tomodachi.get_logger()`` is the handler's logger, and what one
delivery binds stays with it (each delivery runs in a task of its own, from the same context)."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services


class BothBindings(tomodachi.Service):
    name = "both-bindings"
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

    @tomodachi.aws_sns_sqs("context-test")
    async def on_sns(self, data: Any) -> None:
        await self.on_message(data)


@pytest.mark.parametrize("family", ["amqp", "aws_sns_sqs"])
async def test_the_context_logger_is_the_handlers_and_bindings_stay_in_their_delivery(family: str) -> None:
    async with run_services(BothBindings) as running:
        for n in range(3):
            if family == "amqp":
                sent = await running.publish_amqp("context.test", n)
            else:
                sent = await running.publish("context-test", n)
            report = await sent.outcome(handler="on_message" if family == "amqp" else "on_sns")
            assert report.handled
        service = running.service
        assert isinstance(service, BothBindings)
        seen = service.seen
    handler = "on_message" if family == "amqp" else "on_sns"
    assert [entry["name"] for entry in seen] == [f"tomodachi.{family}.handler"] * 3
    assert all(entry["context"] == {"handler": handler} for entry in seen)
