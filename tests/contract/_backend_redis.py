"""The ``redis`` contract backend: ``@tomodachi.redis_queue`` against a real Redis.

A pytest plugin (``pytest_plugins`` of ``tests/conftest.py``); its tests are marked ``redis``
(``TOMODACHI_TEST_NO_REDIS=1`` skips them; otherwise an unreachable Redis fails them). Redis is
expected at 127.0.0.1:6379. Each test gets its own key prefix, so tests never see each other's
streams, and its keys are deleted after it.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.contract.contract_support import Backend

CONTRACT_BACKENDS = {"redis": [pytest.param("redis", marks=pytest.mark.redis)]}

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def server_backend_redis() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(
            f"no Redis at 127.0.0.1:6379 ({exc}); start it with "
            "'redis-server --daemonize yes --bind 127.0.0.1 --save \"\" --appendonly no'"
        )
    return REDIS_URL


@pytest.fixture
def redis_backend_redis(server_backend_redis: str) -> Iterator[Backend]:
    prefix = f"tomodachi-test-{uuid.uuid4().hex[:10]}:"
    options = {
        "redis.url": server_backend_redis,
        "redis.key_prefix": prefix,
        "redis.poll_interval": 0.1,
        "redis.claim_idle": 1.0,
    }
    yield Backend("redis", options, None)
    asyncio.run(delete_keys(server_backend_redis, prefix))


async def delete_keys(url: str, prefix: str) -> None:
    """Delete every key that starts with *prefix*."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
