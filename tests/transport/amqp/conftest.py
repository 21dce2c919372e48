"""Fixtures for the RabbitMQ backend tests: a real broker at 127.0.0.1:5672 (guest/guest).

Every test names its queues and routing keys with a unique prefix (the ``prefix`` fixture), so
tests never see each other's messages; whatever a test leaves on the broker is deleted at the
end of the session (and would expire anyway: tests declare queues with a short ``x-expires``).

- ``harness``: run service classes in-process through the real container, in one run;
- ``raw``: a plain aio-pika channel to publish, bind and inspect with.

``spawn`` / ``write`` (``tomodachi run`` subprocesses), ``json_logs`` and ``wait_until`` are the
shared fixtures of ``tests/conftest.py``; what test modules import is in ``_amqp_support.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest

from tests._support import broker_absent

from ._amqp_support import HOST, PORT, TEST_PREFIX, URL, Harness, rabbitmqctl, wait_for_broker


# -- the broker -----------------------------------------------------------------------------------
def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def rabbitmq() -> Iterator[None]:
    """Make sure the broker runs; delete every test queue and exchange at the end."""
    if broker_absent("rabbitmq"):  # the tests that need it are skipped (marker ``rabbitmq``)
        yield
        return
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
        # Only what nobody uses any more: another test session sharing the broker (a second
        # checkout, a CI run next to a developer's) may still consume from, or hold messages in,
        # queues of the same prefix. A refused delete closes the channel: open a new one.
        connection = await aio_pika.connect(URL)
        async with connection:
            channel = await connection.channel()
            for name in queues:
                if name.startswith(TEST_PREFIX):
                    try:
                        await channel.queue_delete(name, if_unused=True, if_empty=True)
                    except aio_pika.exceptions.AMQPError:
                        channel = await connection.channel()
            for name in exchanges:
                if name.startswith(TEST_PREFIX):
                    try:
                        await channel.exchange_delete(name, if_unused=True)
                    except aio_pika.exceptions.AMQPError:
                        channel = await connection.channel()

    asyncio.run(delete())


# -- names ----------------------------------------------------------------------------------------
@pytest.fixture
def prefix() -> str:
    """A unique prefix for this test's queues, exchanges and routing keys."""
    return f"{TEST_PREFIX}{uuid.uuid4().hex[:10]}."


# -- in-process services --------------------------------------------------------------------------
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
