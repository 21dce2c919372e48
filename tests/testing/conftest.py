"""Real brokers for the ``tomodachi.testing`` tests: RabbitMQ at 127.0.0.1:5672 and a moto server.

Each test gets its own routing-key, queue and topic prefix (:func:`rabbitmq_options`,
:func:`aws_options`), so tests never see each other's messages; RabbitMQ queues expire a minute
after their last consumer left, and a test's dead-letter exchange is deleted after it.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests._moto_support import moto_server


@pytest.fixture(scope="session")
def rabbitmq_address() -> tuple[str, int]:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(f"no RabbitMQ at 127.0.0.1:5672 ({exc}); start it with 'rabbitmq-server -detached'")
    return ("127.0.0.1", 5672)


@pytest.fixture
def rabbitmq_options(rabbitmq_address: tuple[str, int]) -> Iterator[dict[str, Any]]:
    """Options for a run on RabbitMQ, with this test's prefixes and dead-letter exchange."""
    unique = uuid.uuid4().hex[:10]
    prefix = f"tomodachi-test-harness-{unique}."
    dead_letter_exchange = f"dlx-harness-{unique}"
    yield {
        "amqp.host": rabbitmq_address[0],
        "amqp.port": rabbitmq_address[1],
        "amqp.routing_key_prefix": prefix,
        "amqp.queue_name_prefix": prefix,
        "amqp.queue_ttl": 60,
        "amqp.dead_letter_exchange": dead_letter_exchange,
    }
    asyncio.run(_delete_exchange(dead_letter_exchange))


async def _delete_exchange(name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(name)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server (SNS, SQS, STS) on 127.0.0.1 and a free port, for the session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def aws_options(moto_url: str) -> dict[str, Any]:
    """Options for a run on moto, with this test's topic and queue prefix."""
    prefix = f"h{uuid.uuid4().hex[:8]}-"
    return {
        "aws_sns_sqs.region_name": "eu-west-1",
        "aws_sns_sqs.aws_access_key_id": "AKIDHARNESS",
        "aws_sns_sqs.aws_secret_access_key": "harness-secret",
        "aws_sns_sqs.topic_prefix": prefix,
        "aws_sns_sqs.queue_name_prefix": prefix,
        "aws_endpoint_urls.sns": moto_url,
        "aws_endpoint_urls.sqs": moto_url,
        "aws_endpoint_urls.sts": moto_url,
    }
