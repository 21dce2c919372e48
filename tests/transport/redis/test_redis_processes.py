"""``@tomodachi.redis_queue`` across real ``tomodachi run`` processes and a real Redis.

Competing consumers in two processes, a consumer killed with SIGKILL mid-stream and another
started, Redis killing the consumer's connections mid-stream: every message is handled at least
once. Handlers record what they handled in a Redis list the test reads.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tests._support import ServiceProcess
from tests.contract._backend_redis import REDIS_URL, delete_keys
from tomodachi.testing import run_services

pytestmark = pytest.mark.redis

WORKER = """
import asyncio
import os

import redis.asyncio as aioredis

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.transport.redis import redis_queue

PREFIX = os.environ["H6_PREFIX"]


class Worker(tomodachi.Service):
    name = "worker"
    message_envelope = JsonBase
    options = tomodachi.Options(
        redis={
            "key_prefix": PREFIX,
            "poll_interval": 0.1,
            "claim_idle": 1.0,
            "concurrency": 5,
            "client_name": os.environ["H6_CLIENT"],
        },
        retry={"max_attempts": 2},
    )

    async def _start_service(self) -> None:
        self.client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")

    async def _stop_service(self) -> None:
        await self.client.aclose()

    @redis_queue("jobs")
    async def job(self, data: int) -> None:
        if data == -1:  # a poison message: it kills the process that handles it
            os._exit(3)
        await asyncio.sleep(float(os.environ.get("H6_SLEEP", "0")))
        await self.client.rpush(PREFIX + "done", os.environ["H6_NAME"] + ":" + str(data))
"""


class Producer(tomodachi.Service):
    name = "producer"

    @tomodachi.redis_queue("unused")  # a service needs a handler to run
    async def unused(self, data: Any) -> None:
        pass


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"tomodachi-test-{uuid.uuid4().hex[:10]}:"
    yield name
    asyncio.run(delete_keys(REDIS_URL, name))


def _start(
    spawn: Callable[..., ServiceProcess], service: Path, prefix: str, name: str, client: str, sleep: float
) -> ServiceProcess:
    env = {"H6_PREFIX": prefix, "H6_NAME": name, "H6_CLIENT": client, "H6_SLEEP": str(sleep)}
    process = spawn("run", "--log-level", "info", str(service), env=env)
    process.wait_for_stderr("consuming Redis stream")
    return process


async def _enqueue(prefix: str, count: int, first: int = 0) -> None:
    options = {"redis.key_prefix": prefix, "redis.poll_interval": 0.1}
    async with run_services(Producer, message_broker=None, options=options) as app:
        for n in range(first, first + count):
            await tomodachi.redis_enqueue(
                app.service, n, "jobs", message_envelope=tomodachi.envelope.JsonBase
            )


async def _handled(client: Any, prefix: str) -> list[tuple[str, int]]:
    items = await client.lrange(prefix + "done", 0, -1)
    return [(who, int(n)) for who, _, n in (item.partition(":") for item in items)]


async def _wait_handled(
    client: Any, prefix: str, predicate: Callable[[list[tuple[str, int]]], bool], within: float
) -> list[tuple[str, int]]:
    deadline = time.monotonic() + within
    while True:
        handled = await _handled(client, prefix)
        if predicate(handled):
            return handled
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {within} s; handled {len(handled)}: {sorted(set(handled))[:20]}..."
            )
        await asyncio.sleep(0.05)


async def test_two_processes_compete_for_the_messages_of_one_service(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path], prefix: str, redis_client: Any
) -> None:
    service = write("worker.py", WORKER)
    client = f"h6-{uuid.uuid4().hex[:8]}"
    _start(spawn, service, prefix, "a", client, 0.005)
    _start(spawn, service, prefix, "b", client, 0.005)
    await _enqueue(prefix, 200)
    handled = await _wait_handled(redis_client, prefix, lambda h: len({n for _, n in h}) == 200, 30)
    assert sorted(n for _, n in handled) == list(range(200))  # each once: nothing crashed
    assert {who for who, _ in handled} == {"a", "b"}


async def test_a_consumer_killed_mid_stream_loses_nothing(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path], prefix: str, redis_client: Any
) -> None:
    service = write("worker.py", WORKER)
    client = f"h6-{uuid.uuid4().hex[:8]}"
    first = _start(spawn, service, prefix, "a", client, 0.1)  # 50 messages a second
    await _enqueue(prefix, 150)
    await _wait_handled(redis_client, prefix, lambda h: len(h) >= 20, 20)
    first.send(signal.SIGKILL)  # its 5 messages in flight stay pending in the group
    first.wait()
    _start(spawn, service, prefix, "b", client, 0.0)
    handled = await _wait_handled(redis_client, prefix, lambda h: len({n for _, n in h}) == 150, 30)
    assert {n for _, n in handled} == set(range(150))  # at least once: reclaimed after claim_idle
    assert any(who == "b" for who, _ in handled)


async def test_redis_killing_the_consumers_connections_mid_stream_loses_nothing(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path], prefix: str, redis_client: Any
) -> None:
    service = write("worker.py", WORKER)
    client = f"h6-{uuid.uuid4().hex[:8]}"
    process = _start(spawn, service, prefix, "a", client, 0.01)
    await _enqueue(prefix, 150)
    await _wait_handled(redis_client, prefix, lambda h: len(h) >= 20, 20)
    killed = 0
    listing = await redis_client.execute_command("CLIENT", "LIST")
    for line in str(listing).splitlines():
        fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        if fields.get("name") == client:  # by name: the worker's connections
            await redis_client.execute_command("CLIENT", "KILL", "ID", fields["id"])
            killed += 1
    assert killed >= 1
    await redis_client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    handled = await _wait_handled(redis_client, prefix, lambda h: len({n for _, n in h}) == 150, 30)
    assert {n for _, n in handled} == set(range(150))
    assert process.proc.poll() is None  # still running: it reconnected by itself


async def test_a_poison_message_that_kills_its_consumers_is_dead_lettered_after_the_last_attempt(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path], prefix: str, redis_client: Any
) -> None:
    service = write("worker.py", WORKER)
    client = f"h6-{uuid.uuid4().hex[:8]}"
    await _enqueue(prefix, 1, first=-1)
    for _ in range(2):  # retry.max_attempts = 2: two deliveries, two dead processes
        process = _start(spawn, service, prefix, "a", client, 0.0)
        assert process.wait() == 3
    _start(spawn, service, prefix, "b", client, 0.0)
    await _enqueue(prefix, 1, first=7)
    await _wait_handled(redis_client, prefix, lambda h: h == [("b", 7)], 20)
    deadline = time.monotonic() + 10
    letters: list[Any] = []
    while not letters and time.monotonic() < deadline:
        letters = await redis_client.xrange(prefix + "{jobs}:dead:worker")
        await asyncio.sleep(0.05)
    [(_, fields)] = letters
    assert fields["reason"] == "not settled in 2 deliveries" and fields["attempt"] == "3"
    assert await _handled(redis_client, prefix) == [("b", 7)]  # the poison never ran a third time
