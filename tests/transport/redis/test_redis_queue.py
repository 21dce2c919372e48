"""``@tomodachi.redis_queue``: options, the in-memory model on a manual clock, outages, poison
messages, routes and the stop; on the in-memory model, and where it matters on a real Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import tomodachi
from tests._support import SRC, wait_until
from tests.contract._backend_redis import REDIS_URL, delete_keys
from tomodachi.envelope import JsonBase
from tomodachi.errors import ConfigurationError
from tomodachi.options import Options
from tomodachi.testing import ManualClock, run_services
from tomodachi.transport.redis import MemoryQueueBackend, RedisOptions, RedisQueueTransport, redis_queue


def _transport(service: tomodachi.Service) -> RedisQueueTransport:
    transport = tomodachi.runtime_of(service).transport(service, RedisQueueTransport)
    assert transport is not None and transport.backend is not None
    return transport


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, dict[str, Any]]]:
    prefix = f"tomodachi-test-{request.node.name[-40:]}-{id(request)}:"
    options = {"redis.key_prefix": prefix, "redis.poll_interval": 0.1, "redis.claim_idle": 0.3}
    yield ("memory" if request.param == "memory" else None), options
    if request.param == "redis":
        asyncio.run(delete_keys(REDIS_URL, prefix))


def test_the_url_password_is_masked_in_reprs_and_errors() -> None:
    options = Options(redis={"url": "redis://user:hunter2@cache:6379/0", "password": "s3cret"})
    assert "hunter2" not in repr(options) and "s3cret" not in repr(options)
    assert "redis://user:***@cache:6379/0" in repr(options)
    assert options.section(RedisOptions).url == "redis://user:hunter2@cache:6379/0"
    with pytest.raises(ConfigurationError) as caught:
        Options(redis={"url": "http://user:hunter2@cache"})
    assert "hunter2" not in str(caught.value) and "redis.url" in str(caught.value)


def test_options_spanning_keys_are_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"redis\.sentinels"):
        Options(redis={"mode": "sentinel"}).validate()
    with pytest.raises(ConfigurationError, match=r"redis\.socket_timeout"):
        Options(redis={"socket_timeout": 1, "poll_interval": 2}).validate()
    Options(redis={"mode": "sentinel", "sentinels": ["10.0.0.1:26379"]}).validate()


def test_importing_tomodachi_or_the_transport_does_not_import_redis_py() -> None:
    code = (
        "import sys, tomodachi\n"
        "tomodachi.redis_queue, tomodachi.redis_enqueue\n"
        "assert 'redis' not in sys.modules, 'redis-py imported'\n"
        "assert 'tomodachi.transport.redis.redis_backend' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": SRC}, timeout=30)


async def test_a_long_backoff_takes_no_real_time_on_a_manual_clock() -> None:
    class Billing(tomodachi.Service):
        name = "billing"
        message_envelope = JsonBase
        first: float | None = None

        @redis_queue("invoices", retry=tomodachi.RetryPolicy(max_attempts=10, initial_delay=60, jitter=False))
        async def charge(self, data: Any, attempt: int) -> None:
            if attempt < 4:
                raise tomodachi.RetryMessage("provider down")

    async with run_services(Billing, clock=ManualClock()) as app:
        report = await (await app.redis_enqueue("invoices", {"id": 1})).outcome(timeout=5)
    assert report.handled and report.retries == 3  # waited 60, 120, 240 s on the manual clock
    assert [attempt.delay for attempt in report.attempts[:3]] == [60.0, 120.0, 240.0]


async def test_not_ready_while_redis_is_unreachable_and_nothing_is_lost() -> None:
    handled: list[int] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @redis_queue("jobs")
        async def job(self, data: int) -> None:
            handled.append(data)

    async with run_services(Worker, options={"redis.poll_interval": 0.05}) as app:
        transport = _transport(app.service)
        backend = transport.backend
        assert isinstance(backend, MemoryQueueBackend)
        await tomodachi.redis_enqueue(app.service, 1, "jobs")
        await wait_until(lambda: handled == [1], what="the first job")
        backend.model.available = False  # an outage
        await wait_until(lambda: not app.service.ready, what="not ready")
        assert app.service.readiness == {"redis": False}
        enqueue = asyncio.ensure_future(tomodachi.redis_enqueue(app.service, 2, "jobs"))  # keeps trying
        await asyncio.sleep(0.2)
        backend.model.available = True
        await enqueue
        await wait_until(lambda: app.service.ready and handled == [1, 2], what="back, and the second job")


async def test_dead_letter_routes_and_dropping_without_dead_letters() -> None:
    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @redis_queue("jobs", group="workers")
        async def job(self, data: Any) -> None:
            raise tomodachi.RejectMessage("no")

    async with run_services(Worker) as app:
        [route] = _transport(app.service).dead_letter_routes()
        assert (route.queue, route.dead_letter_queue, route.kind) == (
            "tomodachi:{jobs}",
            "tomodachi:{jobs}:dead:workers",
            "redis",
        )
    async with run_services(Worker, options={"redis.dead_letters": False}) as app:
        [route] = _transport(app.service).dead_letter_routes()
        assert route.drops
        report = await (await app.redis_enqueue("jobs", 1)).outcome(timeout=5)
        logs = app.logs
    assert report.result == "dropped"
    assert any("will be dropped" in r["message"] for r in logs)


async def test_a_stop_drains_handlers_and_leaves_the_unfinished_pending(
    broker: tuple[str | None, dict[str, Any]],
) -> None:
    attempts: list[int] = []

    class Slow(tomodachi.Service):
        name = "slow"
        message_envelope = JsonBase

        @redis_queue("slow")
        async def job(self, data: Any, attempt: int) -> None:
            attempts.append(attempt)
            await asyncio.sleep(30)

    message_broker, options = broker
    options = {**options, "termination_grace_period_seconds": 0.2}
    async with run_services(Slow, message_broker=message_broker, options=options) as app:
        await tomodachi.redis_enqueue(app.service, "x", "slow")
        await wait_until(lambda: attempts == [1], what="the first delivery")
    logs = app.logs
    # Stopped within the grace period: the handler was cancelled, its message left pending.
    if message_broker == "memory":
        return  # the in-memory model is per run: nothing carries over
    async with run_services(Slow, message_broker=message_broker, options=options) as again:
        # The next consumer of the group reclaims it after claim_idle: attempt 2.
        await wait_until(lambda: attempts == [1, 2], what="the message reclaimed by the next consumer")
        assert again.service.ready
    assert any("not handled within the grace period" in r["message"] for r in logs)


class _Proxy:
    """A TCP proxy to the real Redis that the test can take down and bring back (an outage)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", 6379)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, upstream_writer))

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                target.close()
                self.writers.discard(target)

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.mark.redis
async def test_an_outage_of_the_real_redis_makes_it_not_ready_then_it_reconnects_and_loses_nothing() -> None:
    handled: list[int] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @redis_queue("jobs")
        async def job(self, data: int) -> None:
            handled.append(data)

    proxy = _Proxy()
    await proxy.start()
    prefix = f"tomodachi-test-outage-{id(proxy)}:"
    options = {
        "redis.url": f"redis://127.0.0.1:{proxy.port}/0",
        "redis.key_prefix": prefix,
        "redis.poll_interval": 0.1,
        "redis.claim_idle": 1.0,
        "redis.reconnect_delay_max": 0.2,
    }
    try:
        async with run_services(Worker, message_broker=None, options=options) as app:
            await tomodachi.redis_enqueue(app.service, 1, "jobs")
            await wait_until(lambda: handled == [1], what="the first job")
            await proxy.stop()  # Redis is gone for the service
            await wait_until(lambda: not app.service.ready, what="not ready")
            enqueue = asyncio.ensure_future(tomodachi.redis_enqueue(app.service, 2, "jobs"))  # keeps trying
            await asyncio.sleep(0.3)
            assert not enqueue.done()
            await proxy.start()  # back, on the same port
            await asyncio.wait_for(enqueue, 10)
            await wait_until(lambda: app.service.ready and handled == [1, 2], what="back, and the second job")
            logs = app.logs
        assert any(r["message"] == "Redis unreachable; reconnecting" for r in logs)
        assert any(r["message"] == "Redis reachable again" for r in logs)
    finally:
        await proxy.stop()
        await delete_keys(REDIS_URL, prefix)


@pytest.mark.redis
async def test_trimming_forgets_consumers_long_gone_with_nothing_pending() -> None:
    import redis.asyncio as aioredis

    from tomodachi.transport.redis import QueueKeys
    from tomodachi.transport.redis.redis_backend import RedisBackend

    prefix = f"tomodachi-test-consumers-{id(object())}:"
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        backend = RedisBackend(client, RedisOptions())
        keys = QueueKeys.of(prefix, "jobs", "workers")
        await backend.ensure_group(keys, "workers")
        await backend.read(keys, "workers", "gone", 1, 0.01)  # a consumer that read nothing, then died
        await backend.enqueue(keys.stream, "x", message_id="m", delay=0, maxlen=None)
        [entry], _ = await backend.read(keys, "workers", "busy", 1, 0.01)  # one with a pending entry
        await asyncio.sleep(0.05)
        await backend.trim(keys.stream, forget_consumers_after=0.01)
        names = {c["name"] for c in await client.xinfo_consumers(keys.stream, "workers")}
        assert names == {"busy"}  # "gone" is forgotten; "busy" keeps its pending entry
        await backend.ack("workers", entry)
        assert await backend.trim(keys.stream) == 1  # acknowledged by every group: trimmed
    finally:
        await client.aclose()
        await delete_keys(REDIS_URL, prefix)


async def test_the_url_password_stays_out_of_the_logs() -> None:
    class Worker(tomodachi.Service):
        name = "worker"

        @redis_queue("jobs")
        async def job(self, data: Any) -> None:
            pass

    options = {"redis.url": "redis://user:hunter2@127.0.0.1:1/0", "redis.connect_timeout": 0.5}
    with pytest.raises(Exception) as caught:
        async with run_services(Worker, message_broker=None, options=options):
            pass
    assert "hunter2" not in str(caught.value)
    async with run_services(Worker, options=options) as app:  # in memory: the URL is not used
        logs = app.logs
    assert "hunter2" not in str(logs)


def test_tls_cluster_and_sentinel_clients_are_made_from_the_same_options() -> None:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.connection import SSLConnection

    from tomodachi.transport.redis.redis_backend import make_client

    def settings(**values: Any) -> RedisOptions:
        return Options(redis=values).section(RedisOptions)

    tls = make_client(settings(url="redis://cache:6380/2", tls={"enabled": True, "verify": False}))
    assert isinstance(tls, Redis) and tls.connection_pool.connection_class is SSLConnection
    assert tls.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    assert tls.connection_pool.connection_kwargs["client_name"] == "tomodachi"
    assert tls.connection_pool.max_connections == 50
    cluster = make_client(settings(mode="cluster", url="redis://node-1:7000/0"))
    assert isinstance(cluster, RedisCluster)
    sentinel = make_client(
        settings(mode="sentinel", sentinels=["s1:26379", "s2:26379"], sentinel_master="queues")
    )
    pool: Any = sentinel.connection_pool
    assert isinstance(sentinel, Redis) and pool.service_name == "queues"


def test_tomodachi_run_with_the_memory_broker_runs_redis_queues_without_redis(spawn: Any, write: Any) -> None:
    service = write(
        "jobs.py",
        """
        import tomodachi
        from tomodachi.envelope import JsonBase


        class Jobs(tomodachi.Service):
            name = "jobs"
            message_envelope = JsonBase

            @tomodachi.redis_queue("jobs", retry=tomodachi.RetryPolicy(initial_delay=0.05))
            async def job(self, data, attempt):
                if attempt < 2:
                    raise tomodachi.RetryMessage("once more")
                tomodachi.get_logger("jobs").info("handled", data=data, attempt=attempt)
                tomodachi.exit(0)

            async def _started_service(self):
                await tomodachi.redis_enqueue(self, {"n": 1}, "jobs", delay=0.05)
        """,
    )
    process = spawn("run", "--message-broker", "memory", str(service))
    process.wait_for_stderr(r"handled.*attempt.*2")
    assert process.wait() == 0


async def test_maxlen_caps_the_queue_stream(broker: tuple[str | None, dict[str, Any]]) -> None:
    class Producer(tomodachi.Service):
        name = "producer"

        @redis_queue("unused")
        async def unused(self, data: Any) -> None:
            pass

    message_broker, options = broker
    async with run_services(
        Producer, message_broker=message_broker, options={**options, "redis.maxlen": 100}
    ) as app:
        await asyncio.gather(*(tomodachi.redis_enqueue(app.service, str(n), "capped") for n in range(1000)))
        transport = _transport(app.service)
        stream = transport.consumers[0].keys.stream.replace("{unused}", "{capped}")
        backend = transport.backend
        if isinstance(backend, MemoryQueueBackend):
            length = len(backend.model.streams[stream].entries)
            assert length == 100  # exact in memory
        else:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                length = await client.xlen(stream)
            finally:
                await client.aclose()
            assert 100 <= length < 1000  # MAXLEN ~: Redis trims whole nodes
