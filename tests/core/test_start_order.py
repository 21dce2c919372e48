"""Start-up order as in the original (reference §3.2), and a stop requested during start-up.

- AMQP consumers run before ``_started_service``: a service may wait there for its own message.
- SQS receive loops and schedules start only after ``_started_service`` returned.
- A stop requested while transports start does not cancel them half-way: they finish starting,
  then stop in order.
"""

from __future__ import annotations

import asyncio

import tomodachi
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.testing import run_services


async def test_amqp_consumes_before_started_service_sqs_and_schedules_after() -> None:
    events: list[str] = []

    class Svc(tomodachi.Service):
        name = "svc"

        async def _start_service(self) -> None:
            self.own_message: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @tomodachi.amqp("self.ping")
        async def on_ping(self, message: str) -> None:
            events.append(f"amqp:{message}")
            if not self.own_message.done():
                self.own_message.set_result(message)

        @tomodachi.aws_sns_sqs("self.sqs")
        async def on_sqs(self, message: str) -> None:
            events.append("sqs")

        @tomodachi.schedule(interval=3600, immediately=True)
        async def hourly_job(self) -> None:
            events.append("schedule")

        async def _started_service(self) -> None:
            await tomodachi.amqp_publish(self, "hello", "self.ping")
            await tomodachi.aws_sns_sqs_publish(self, "x", "self.sqs")
            # The original's users wait here for a message the service sent to itself.
            assert await asyncio.wait_for(self.own_message, 5) == "hello"
            events.append("_started_service returns")

    async with run_services(Svc):
        deadline = asyncio.get_running_loop().time() + 5
        while not {"sqs", "schedule"} <= set(events):
            assert asyncio.get_running_loop().time() < deadline, events
            await asyncio.sleep(0.005)
    returned = events.index("_started_service returns")
    assert events.index("amqp:hello") < returned
    assert events.index("sqs") > returned and events.index("schedule") > returned


class StartGate(tomodachi.Transport):
    """A transport whose start waits for the test: shows what a stop during start-up does."""

    kind = "gate"
    entered: asyncio.Event
    release: asyncio.Event
    log: list[str]

    async def start(self) -> None:
        StartGate.log.append("start entered")
        StartGate.entered.set()
        await StartGate.release.wait()
        StartGate.log.append("start finished")

    async def stop(self) -> None:
        StartGate.log.append("stop")


async def test_stop_during_start_up_lets_transports_finish_starting_then_stops_them() -> None:
    StartGate.entered, StartGate.release, StartGate.log = asyncio.Event(), asyncio.Event(), []

    class Svc(tomodachi.Service):
        name = "gated"

        @StartGate.decorator()
        async def handler(self) -> None:
            pass

        async def _stop_service(self) -> None:
            StartGate.log.append("_stop_service")

    runtime = Runtime()
    token = runtime.activate()
    try:
        container = ServiceContainer([Svc], runtime)
        await container.setup()
        start = asyncio.ensure_future(container.start())
        await asyncio.wait_for(StartGate.entered.wait(), 5)
        start.cancel()  # what the runner does when SIGTERM arrives during start-up
        await asyncio.gather(start, return_exceptions=True)
        stopping = asyncio.ensure_future(container.stop())
        await asyncio.sleep(0)
        assert not stopping.done()  # waits for the transport to finish starting
        StartGate.release.set()
        await asyncio.wait_for(stopping, 5)
    finally:
        await runtime.aclose()
        Runtime.deactivate(token)
    assert StartGate.log == ["start entered", "start finished", "stop", "_stop_service"]
