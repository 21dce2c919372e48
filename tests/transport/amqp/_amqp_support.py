"""What the RabbitMQ tests import (a module with a unique name, unlike ``conftest``).

The fixtures (``rabbitmq``, ``prefix``, ``harness``, ``raw``) are in this directory's conftest;
``wait_until``, ``json_logs``, ``spawn`` and ``write`` are the shared ones of ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import aio_pika

import tomodachi
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.transport.amqp.transport import AmqpTransport

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/"
#: Every queue and exchange a test creates starts with this.
TEST_PREFIX = "tomodachi-test-"


# -- the broker -----------------------------------------------------------------------------------
def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=True
    )
    return result.stdout


def wait_for_broker(within: float = 60.0) -> None:
    """Wait until RabbitMQ accepts AMQP connections (not only TCP: the app must be running)."""

    async def probe() -> bool:
        try:
            connection = await aio_pika.connect(URL, timeout=2)
        except Exception:
            return False
        await connection.close()
        return True

    deadline = time.monotonic() + within
    while not asyncio.run(probe()):
        if time.monotonic() > deadline:
            raise RuntimeError("RabbitMQ did not come up")
        time.sleep(0.2)


# -- names and options ----------------------------------------------------------------------------
def amqp_options(prefix: str, **extra: Any) -> tomodachi.Options:
    """Options that keep a test's names apart, with short-lived queues."""
    values: dict[str, Any] = {
        "amqp.routing_key_prefix": prefix,
        "amqp.queue_name_prefix": prefix,
        "amqp.queue_ttl": 600,
    }
    values.update({k if k.startswith(("amqp.", "http.")) else f"amqp.{k}": v for k, v in extra.items()})
    return tomodachi.Options(**values)


# -- in-process services --------------------------------------------------------------------------
class Harness:
    """Service classes started in-process through the real container, in one run."""

    def __init__(self) -> None:
        self.runtime = Runtime()
        self.containers: list[ServiceContainer] = []

    async def start(self, *classes: type[tomodachi.Service]) -> ServiceContainer:
        self.runtime.activate()  # in the test's context: publishes find the run
        container = ServiceContainer(classes, self.runtime, source="test")
        self.containers.append(container)
        await container.setup()
        await container.start()
        return container

    @staticmethod
    def transport(container: ServiceContainer, index: int = 0) -> AmqpTransport:
        transport = container.runtime.transport(container.instances[index], AmqpTransport)
        assert transport is not None
        return transport

    async def stop(self, container: ServiceContainer) -> None:
        if container in self.containers:
            self.containers.remove(container)
            await container.stop()

    async def close(self) -> None:
        for container in list(self.containers):
            await self.stop(container)
        await self.runtime.aclose()


# -- plain aio-pika ---------------------------------------------------------------------------------
async def get_messages(
    queue: aio_pika.abc.AbstractQueue, count: int, within: float = 10.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Get (and ack) *count* messages from *queue*, polling until a deadline."""
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = time.monotonic() + within
    while len(messages) < count:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(messages)} of {count} messages from {queue.name}")
            await asyncio.sleep(0.02)
            continue
        messages.append(message)
    return messages


# -- subprocesses ---------------------------------------------------------------------------------
def stdout_values(process: Any, tag: str) -> list[str]:
    """The values of the ``<tag> <value>`` lines a service printed so far."""
    return [line.split(" ", 1)[1] for line in list(process.stdout_lines) if line.startswith(tag + " ")]
