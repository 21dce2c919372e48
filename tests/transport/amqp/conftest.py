"""Fixtures for the RabbitMQ backend tests: a real broker at 127.0.0.1:5672 (guest/guest).

Every test names its queues and routing keys with a unique prefix (the ``prefix`` fixture), so
tests never see each other's messages; whatever a test leaves on the broker is deleted at the
end of the session (and would expire anyway: tests declare queues with a short ``x-expires``).

- ``harness``: run service classes in-process through the real container, in one run;
- ``raw``: a plain aio-pika channel to publish, bind and inspect with;
- ``spawn`` / ``write``: ``tomodachi run`` subprocesses (the helpers of ``tests/cli``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

import tomodachi
import tomodachi.logging as tlog
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.transport.amqp.rabbitmq import RabbitMQTransport

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/"
#: Every queue and exchange a test creates starts with this.
TEST_PREFIX = "tomodachi-test-"

# The subprocess helpers of tests/cli (ServiceProcess, cli_env), loaded under a private name.
_spec = importlib.util.spec_from_file_location(
    "_tomodachi_cli_helpers", Path(__file__).resolve().parents[2] / "cli" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
cli_helpers = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cli_helpers
_spec.loader.exec_module(cli_helpers)
ServiceProcess = cli_helpers.ServiceProcess


# -- the broker -----------------------------------------------------------------------------------
def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


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


@pytest.fixture(scope="session", autouse=True)
def rabbitmq() -> Iterator[None]:
    """Make sure the broker runs; delete every test queue and exchange at the end."""
    if not _broker_up():
        if shutil.which("rabbitmq-server"):
            subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
        else:  # pragma: no cover - the test machine has RabbitMQ
            raise RuntimeError("RabbitMQ is not running at 127.0.0.1:5672")
    wait_for_broker()
    yield
    _delete_test_entities()


def _delete_test_entities() -> None:
    try:
        queues = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name").split()
        exchanges = rabbitmqctl("list_exchanges", "-q", "--no-table-headers", "name").split()
    except (OSError, subprocess.SubprocessError):  # pragma: no cover - best effort
        return

    async def delete() -> None:
        connection = await aio_pika.connect(URL)
        async with connection:
            channel = await connection.channel()
            for name in queues:
                if name.startswith(TEST_PREFIX):
                    await channel.queue_delete(name)
            for name in exchanges:
                if name.startswith(TEST_PREFIX):
                    await channel.exchange_delete(name)

    asyncio.run(delete())


# -- names and options ----------------------------------------------------------------------------
@pytest.fixture
def prefix() -> str:
    """A unique prefix for this test's queues, exchanges and routing keys."""
    return f"{TEST_PREFIX}{uuid.uuid4().hex[:10]}."


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
    def transport(container: ServiceContainer, index: int = 0) -> RabbitMQTransport:
        service = container.instances[index]
        return next(t for t in container.transports[id(service)] if isinstance(t, RabbitMQTransport))

    async def stop(self, container: ServiceContainer) -> None:
        if container in self.containers:
            self.containers.remove(container)
            await container.stop()

    async def close(self) -> None:
        for container in list(self.containers):
            await self.stop(container)
        await self.runtime.aclose()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    running = Harness()
    try:
        yield running
    finally:
        await running.close()


# -- plain aio-pika ---------------------------------------------------------------------------------
@pytest.fixture
async def raw() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain aio-pika channel (its own connection), closed after the test."""
    connection = await aio_pika.connect(URL)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


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


async def wait_until(predicate: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Poll *predicate* until it is true or *within* seconds have passed."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {within} s")
        await asyncio.sleep(0.01)


# -- logs -----------------------------------------------------------------------------------------
@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Switch tomodachi logging to JSON on stderr; call the fixture to get the records so far."""
    tlog.configure("json", "info")
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for line in capsys.readouterr().err.splitlines():
            line = line.strip()
            if line.startswith("{"):
                seen.append(json.loads(line))
        return list(seen)

    yield read
    tlog.remove_handlers()
    tlog.reset_context()


# -- subprocesses ---------------------------------------------------------------------------------
@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented file into *tmp_path*; return its path."""

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start ``python -m tomodachi *args`` in *tmp_path*; every process is killed at teardown."""
    started: list[Any] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Any:
        process = ServiceProcess(list(args), tmp_path, cli_helpers.cli_env(**(env or {})))
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


def stdout_values(process: Any, tag: str) -> list[str]:
    """The values of the ``<tag> <value>`` lines a service printed so far."""
    return [line.split(" ", 1)[1] for line in list(process.stdout_lines) if line.startswith(tag + " ")]
