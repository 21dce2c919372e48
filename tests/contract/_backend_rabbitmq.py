"""The ``rabbitmq`` AMQP contract backend: the aio-pika transport against a real RabbitMQ.

A pytest plugin (``pytest_plugins`` of ``tests/conftest.py``). The broker is expected at
127.0.0.1:5672 (guest/guest), as on the CI and development machines; when none answers, the
backend's tests fail (they are marked ``rabbitmq``: ``TOMODACHI_TEST_NO_RABBITMQ=1`` skips them).
Each test gets its own routing-key and queue-name prefix, so tests never see each other's
messages; its queues expire a minute after their last consumer left, and its dead-letter exchange
is deleted after it.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.contract.contract_support import Backend

CONTRACT_BACKENDS = {"amqp": [pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)]}


@pytest.fixture(scope="session")
def broker_backend_rabbitmq() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(f"no RabbitMQ at 127.0.0.1:5672 ({exc}); start it with 'rabbitmq-server -detached'")
    return "127.0.0.1:5672"


@pytest.fixture
def amqp_backend_rabbitmq(
    request: pytest.FixtureRequest, broker_backend_rabbitmq: str, unique: str
) -> Iterator[object]:
    backend = Backend
    prefix = f"tomodachi-test-contract-{uuid.uuid4().hex[:10]}."
    options = {
        "amqp.host": broker_backend_rabbitmq.split(":")[0],
        "amqp.port": int(broker_backend_rabbitmq.split(":")[1]),
        "amqp.routing_key_prefix": prefix,
        "amqp.queue_name_prefix": prefix,
        "amqp.queue_ttl": 60,
    }
    yield backend("rabbitmq", options, None)
    # Queues expire by themselves; exchanges do not. The suite names its dead-letter exchange
    # after the test's `unique` value, outside the prefix: delete it (a no-op if unused).
    asyncio.run(_delete_exchange(f"dlx-{unique}"))


async def _delete_exchange(name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(name)
