"""On RabbitMQ, consumers run before ``_started_service`` (as in the original), all queues at once."""

from __future__ import annotations

import asyncio

import pytest

import tomodachi
from tomodachi.envelope import JsonBase

from ._amqp_support import Harness, amqp_options

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(60)]


async def test_service_can_wait_in_started_service_for_its_own_message(harness: Harness, prefix: str) -> None:
    events: list[str] = []

    class SelfPing(tomodachi.Service):
        name = "self-ping"
        message_envelope = JsonBase
        options = amqp_options(prefix)

        async def _start_service(self) -> None:
            self.pongs: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
            self.received: list[str] = []

        def _got(self, which: str) -> None:
            self.received.append(which)
            if len(self.received) == 3 and not self.pongs.done():
                self.pongs.set_result(sorted(self.received))

        @tomodachi.amqp("ping.a")
        async def on_a(self, data: str) -> None:
            self._got(data)

        @tomodachi.amqp("ping.b")
        async def on_b(self, data: str) -> None:
            self._got(data)

        @tomodachi.amqp("ping.c")
        async def on_c(self, data: str) -> None:
            self._got(data)

        async def _started_service(self) -> None:
            for key in ("a", "b", "c"):
                await tomodachi.amqp_publish(self, key, f"ping.{key}")
            events.extend(await asyncio.wait_for(self.pongs, 10))
            events.append("_started_service returned")

    await harness.start(SelfPing)
    assert events == ["a", "b", "c", "_started_service returned"]
