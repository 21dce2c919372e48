"""examples/postgres_queue: the job-queue transport, in memory and on the machine's PostgreSQL.

Every behaviour runs on both stores (``backend`` fixture): the transport is the same, only the
store differs. PostgreSQL tests use a table of their own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest

import tomodachi
from examples.postgres_queue.pgqueue import MemoryJobStore, StoreUnavailable, pg_enqueue, pg_queue
from examples.postgres_queue.pgqueue.postgres import PostgresJobStore
from tests._support import wait_until
from tests.examples._pgqueue_support import PG_DSN, drop_table, proxy, store_of, transport_of, unique_table
from tomodachi import RetryPolicy
from tomodachi.container import StartupError
from tomodachi.envelope import JsonBase
from tomodachi.messaging.dead_letters import DeadLetterRoute, routes_of
from tomodachi.testing import Delivery, ManualClock, RunningServices, run_services


@dataclass
class Backend:
    name: str
    table: str

    def run(
        self, *classes: type[tomodachi.Service], **options: Any
    ) -> AbstractAsyncContextManager[RunningServices]:
        """Run *classes* on this backend with a table of the test's own (and *options*)."""
        opts = {"pg_queue.table": self.table, "pg_queue.dsn": PG_DSN, **options}
        broker = "memory" if self.name == "memory" else None
        return run_services(*classes, options=opts, message_broker=broker)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    table = unique_table()
    yield Backend(request.param, table)
    if request.param == "postgres":
        await drop_table(table)


Seen = list[tuple[str, Any]]


def recorder() -> tuple[Seen, Callable[..., Any]]:
    """A list and a message middleware that records what it saw in it."""
    seen: Seen = []

    async def middleware(
        func: Callable[..., Any], service: Any, message: Any, queue: str, **kwargs: Any
    ) -> Any:
        seen.append(("middleware", (queue, kwargs["job_id"], kwargs["attempt"])))
        return await func()

    return seen, middleware


async def test_delivery_with_envelope_and_middleware(backend: Backend) -> None:
    seen, middleware = recorder()

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase
        message_middleware = [middleware]

        @pg_queue("emails")
        async def send(self, data: dict[str, Any], job_id: int, attempt: int) -> None:
            seen.append(("handler", (data, job_id, attempt)))

    async with backend.run(Worker) as app:
        job_id = await pg_enqueue(app.service, {"to": "a@example.com"}, "emails")
        await wait_until(lambda: len(seen) == 2, within=5, what="the job handled")
        assert seen == [
            ("middleware", ("emails", job_id, 1)),
            ("handler", ({"to": "a@example.com"}, job_id, 1)),
        ]
        assert await wait_for_pending(app.service, "emails", 0)
        assert transport_of(app.service).ready


async def wait_for_pending(service: tomodachi.Service, queue: str, count: int) -> bool:
    store = store_of(service)
    deadline = time.monotonic() + 5
    while await store.pending(queue) != count:
        assert time.monotonic() < deadline, f"{queue}: still pending"
        await asyncio.sleep(0.01)
    return True


async def test_raw_payload_without_envelope(backend: Backend) -> None:
    seen: list[str] = []

    class Worker(tomodachi.Service):
        name = "worker"

        @pg_queue("raw")
        async def handle(self, message: str) -> None:
            seen.append(message)

    async with backend.run(Worker) as app:
        await pg_enqueue(app.service, "plain text", "raw")
        await wait_until(lambda: seen == ["plain text"], within=5, what="the raw job")


async def test_delay(backend: Backend) -> None:
    handled: list[float] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("later")
        async def handle(self, data: Any) -> None:
            handled.append(time.monotonic())

    async with backend.run(Worker, **{"pg_queue.poll_interval": 5.0}) as app:
        enqueued = time.monotonic()
        await pg_enqueue(app.service, {}, "later", delay=0.4)
        await wait_until(lambda: handled, within=5, what="the delayed job")
        # Not before its time, and woken for it (not by the 5 s poll).
        assert 0.35 <= handled[0] - enqueued < 2.0


async def test_retry_with_backoff_then_success(backend: Backend) -> None:
    attempts: list[tuple[int, float]] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("flaky", retry=RetryPolicy(initial_delay=0.1, jitter=False))
        async def handle(self, data: Any, attempt: int) -> None:
            attempts.append((attempt, time.monotonic()))
            if attempt < 3:
                raise tomodachi.RetryMessage("not yet")

    async with backend.run(Worker) as app:
        job_id = await pg_enqueue(app.service, {}, "flaky")
        report = await delivery(app, job_id).outcome(timeout=5)
        assert await wait_for_pending(app.service, "flaky", 0)
        assert await store_of(app.service).dead_jobs("flaky") == []
        logs = app.logs
    assert [n for n, _ in attempts] == [1, 2, 3]
    # The policy's backoff doubles: 0.1 s, then 0.2 s (a little slack for the clocks).
    assert attempts[1][1] - attempts[0][1] >= 0.09
    assert attempts[2][1] - attempts[1][1] >= 0.19
    assert report.handled and report.retries == 2
    assert [(a.delivery, a.result, a.delay) for a in report.attempts] == [
        (1, "retry", 0.1),
        (2, "retry", 0.2),
        (3, "handled", None),
    ]
    # decide() writes the one line per retry (the transport adds none of its own).
    retried = [r for r in logs if r["message"] == "message will be retried"]
    assert [(r["level"], r["message_id"], r["attempt"], r["delay"]) for r in retried] == [
        ("warning", str(job_id), 1, 0.1),
        ("warning", str(job_id), 2, 0.2),
    ]
    assert not [r for r in logs if str(r["message"]).startswith("job ")]


def delivery(app: RunningServices, job_id: int) -> Delivery:
    """What the transport reports about job *job_id*, as ``tomodachi.testing`` reads it."""
    return Delivery(app.delivery_log, str(job_id), clock=app.clock)


async def test_dead_letter_after_max_attempts(backend: Backend) -> None:
    attempts: list[int] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("doomed", retry=RetryPolicy(max_attempts=3, initial_delay=0.02, jitter=False))
        async def handle(self, data: Any, attempt: int) -> None:
            attempts.append(attempt)
            raise tomodachi.RetryMessage("still failing")

    async with backend.run(Worker) as app:
        job_id = await pg_enqueue(app.service, {"n": 1}, "doomed")
        report = await delivery(app, job_id).outcome(timeout=5)
        store = store_of(app.service)
        dead = await store.dead_jobs("doomed")
        assert [job.id for job in dead] == [job_id]
        assert dead[0].attempts == 3
        assert dead[0].last_error is not None
        assert dead[0].last_error.startswith("gave up after 3 attempts: retry requested: RetryMessage")
        assert await store.pending("doomed") == 0
        logs = app.logs
    assert attempts == [1, 2, 3]
    assert report.dead_lettered and report.retries == 2
    assert report.attempts[-1].reason == "retry requested; retries exhausted"
    (line,) = [r for r in logs if r["message"] == "message dead-lettered"]
    assert line["level"] == "warning" and line["message_id"] == str(job_id) and line["attempt"] == 3
    assert line["dead_letter_to"] == f"{backend.table} (state dead, queue 'doomed')"


async def test_max_attempts_on_the_decorator_is_kept(backend: Backend) -> None:
    attempts: list[int] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("doomed", max_attempts=2)  # kept for compatibility: the policy's max_attempts
        async def handle(self, data: Any, attempt: int) -> None:
            attempts.append(attempt)
            raise tomodachi.RetryMessage("still failing")

    async with backend.run(Worker, **{"retry.initial_delay": 0.02}) as app:
        job_id = await pg_enqueue(app.service, {"n": 1}, "doomed")
        dead = await poll_dead(store_of(app.service), "doomed")
        assert [job.id for job in dead] == [job_id]
        assert dead[0].last_error is not None and dead[0].last_error.startswith("gave up after 2 attempts")
    assert attempts == [1, 2]


async def test_retry_beats_the_service_retry_options_and_the_kept_option(backend: Backend) -> None:
    attempts: dict[str, list[int]] = {"own": [], "service": []}

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("own", retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
        async def own(self, data: Any, attempt: int) -> None:
            attempts["own"].append(attempt)
            raise tomodachi.RetryMessage("again")

        @pg_queue("service")
        async def service(self, data: Any, attempt: int) -> None:
            attempts["service"].append(attempt)
            raise tomodachi.RetryMessage("again")

    retry_options = {"retry.max_attempts": 4, "retry.initial_delay": 0.01}
    async with backend.run(Worker, **retry_options) as app:
        own = delivery(app, await pg_enqueue(app.service, {}, "own"))
        service = delivery(app, await pg_enqueue(app.service, {}, "service"))
        assert (await own.outcome()).dead_lettered and (await service.outcome()).dead_lettered
    assert attempts == {"own": [1, 2], "service": [1, 2, 3, 4]}

    # pg_queue.max_attempts (kept from before the retry options) replaces the service policy's
    # max_attempts, never a handler's own retry=.
    attempts = {"own": [], "service": []}
    async with backend.run(Worker, **retry_options, **{"pg_queue.max_attempts": 3}) as app:
        own = delivery(app, await pg_enqueue(app.service, {}, "own"))
        service = delivery(app, await pg_enqueue(app.service, {}, "service"))
        assert (await own.outcome()).dead_lettered and (await service.outcome()).dead_lettered
    assert attempts == {"own": [1, 2], "service": [1, 2, 3]}


async def test_retry_and_max_attempts_together_fail_the_start() -> None:
    class Worker(tomodachi.Service):
        name = "worker"

        @pg_queue("both", retry=RetryPolicy(max_attempts=3), max_attempts=2)
        async def handle(self, message: str) -> None: ...

    with pytest.raises(
        StartupError, match=r"worker: @pg_queue handler 'handle': give max_attempts= or retry="
    ):
        async with run_services(Worker):
            pass


async def test_retry_delays_follow_the_policy_on_a_manual_clock() -> None:
    clock = ManualClock()
    seen: dict[str, list[float]] = {"own": [], "service": []}

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("own", retry=RetryPolicy(max_attempts=4, initial_delay=10, multiplier=3, jitter=False))
        async def own(self, data: Any) -> None:
            seen["own"].append(clock.monotonic())
            raise tomodachi.RetryMessage("later")

        @pg_queue("service")  # the service's retry options: the defaults, 1 s doubling, jitter
        async def service(self, data: Any, attempt: int) -> None:
            seen["service"].append(clock.monotonic())
            if attempt < 4:
                raise tomodachi.RetryMessage("later")

    # Long polls and locks: the consumer sleeps until the next job is due, so the test moves the
    # clock from one due job to the next (no stops every 5 s of clock time on the way).
    options = {"pg_queue.table": unique_table(), "pg_queue.poll_interval": 600, "pg_queue.lock_seconds": 900}
    async with run_services(Worker, clock=clock, options=options) as app:
        own = await delivery(app, await pg_enqueue(app.service, {}, "own")).outcome(timeout=10)
        service = await delivery(app, await pg_enqueue(app.service, {}, "service")).outcome(timeout=10)
    # The in-memory store keeps time on the run's clock: the delays are the policy's (to the
    # microsecond: the consumer sleeps until a job is due, rounded up to the clock's resolution).
    gaps = [b - a for a, b in itertools.pairwise(seen["own"])]
    assert gaps == pytest.approx([10, 30, 90], abs=1e-5)
    assert own.dead_lettered and [a.delay for a in own.attempts] == [10, 30, 90, None]
    gaps = [b - a for a, b in itertools.pairwise(seen["service"])]
    assert len(gaps) == 3 and service.handled
    for n, (gap, attempt) in enumerate(zip(gaps, service.attempts, strict=False)):
        assert attempt.delay is not None and 2**n / 2 <= attempt.delay <= 2**n  # jitter: [d/2, d]
        assert gap == pytest.approx(attempt.delay, abs=1e-5)


async def test_after_last_attempt_drop_deletes_the_job(backend: Backend) -> None:
    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("dropped", retry=RetryPolicy(max_attempts=2, initial_delay=0.01, after_last_attempt="drop"))
        async def handle(self, data: Any) -> None:
            raise tomodachi.RetryMessage("no luck")

    async with backend.run(Worker) as app:
        job_id = await pg_enqueue(app.service, {}, "dropped")
        report = await delivery(app, job_id).outcome()
        store = store_of(app.service)
        assert await store.dead_jobs("dropped") == [] and await store.pending("dropped") == 0
        logs = app.logs
    assert report.result == "dropped" and report.retries == 1
    (line,) = [r for r in logs if str(r["message"]).startswith("message dropped")]
    assert line["level"] == "error" and line["message_id"] == str(job_id)


async def test_retry_on_and_retry_failures_retry_a_handler_that_raised(backend: Backend) -> None:
    attempts: dict[str, list[int]] = {"on": [], "all": [], "other": []}

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("on", retry=RetryPolicy(max_attempts=2, initial_delay=0.01, retry_on=(TimeoutError,)))
        async def on(self, data: Any, attempt: int) -> None:
            attempts["on"].append(attempt)
            raise TimeoutError("slow upstream")

        @pg_queue("other", retry=RetryPolicy(max_attempts=2, initial_delay=0.01, retry_on=(TimeoutError,)))
        async def other(self, data: Any, attempt: int) -> None:
            attempts["other"].append(attempt)
            raise ValueError("a bug")  # not in retry_on: dead at once

        @pg_queue("all", retry=RetryPolicy(max_attempts=2, initial_delay=0.01, retry_failures=True))
        async def all(self, data: Any, attempt: int) -> None:
            attempts["all"].append(attempt)
            raise ValueError("whatever")

    async with backend.run(Worker) as app:
        reports = {
            queue: await delivery(app, await pg_enqueue(app.service, {}, queue)).outcome()
            for queue in ("on", "other", "all")
        }
    assert attempts == {"on": [1, 2], "other": [1], "all": [1, 2]}
    assert all(report.dead_lettered for report in reports.values())
    assert isinstance(reports["on"].attempts[0].error, TimeoutError)


async def test_enqueued_jobs_are_reported_as_published(backend: Backend) -> None:
    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("emails")
        async def handle(self, data: Any) -> None:
            pass

    async with backend.run(Worker) as app:
        job_id = await pg_enqueue(app.service, {"to": "a@example.com"}, "emails", delay=0.05)
        published = await app.wait_for_published("emails", kind="pg_queue")
        assert (published.service, published.message_id) == ("worker", str(job_id))
        assert published.data == {"to": "a@example.com"}
        assert (await published.decoded())["data"] == {"to": "a@example.com"}
        assert (await delivery(app, job_id).outcome()).handled


async def test_dead_letter_routes_name_the_dead_jobs() -> None:
    class Worker(tomodachi.Service):
        name = "worker"

        @pg_queue("emails")
        async def send(self, message: str) -> None: ...

        @pg_queue("sms")
        async def text(self, message: str) -> None: ...

    async with run_services(Worker, options={"pg_queue.table": "jobs"}) as app:
        routes = routes_of(transport_of(app.service))
    assert routes == [
        DeadLetterRoute("worker", "send", "pg_queue", "emails", "jobs (state dead, queue 'emails')"),
        DeadLetterRoute("worker", "text", "pg_queue", "sms", "jobs (state dead, queue 'sms')"),
    ]
    assert not any(route.drops for route in routes)


async def poll_dead(store: Any, queue: str) -> list[Any]:
    deadline = time.monotonic() + 5
    while not (dead := await store.dead_jobs(queue)):
        assert time.monotonic() < deadline, f"{queue}: no dead job"
        await asyncio.sleep(0.01)
    return list(dead)


@pytest.mark.parametrize(
    "error", [tomodachi.RejectMessage("bad address"), ValueError("boom")], ids=["reject", "raise"]
)
async def test_rejected_or_failed_job_is_dead_at_once(backend: Backend, error: Exception) -> None:
    attempts: list[int] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("rejects")
        async def handle(self, data: Any, attempt: int) -> None:
            attempts.append(attempt)
            raise error

    async with backend.run(Worker) as app:
        await pg_enqueue(app.service, {}, "rejects")
        dead = await poll_dead(store_of(app.service), "rejects")
        assert dead[0].attempts == 1
        assert dead[0].last_error is not None and type(error).__name__ in dead[0].last_error
    assert attempts == [1]


async def test_undecodable_job_is_dead(backend: Backend) -> None:
    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("garbage")
        async def handle(self, data: Any) -> None:
            raise AssertionError("never called")

    async with backend.run(Worker) as app:
        await pg_enqueue(app.service, "not json", "garbage", message_envelope=None)
        dead = await poll_dead(store_of(app.service), "garbage")
        assert dead[0].last_error is not None and dead[0].last_error.startswith("undecodable")


async def test_competing_consumers_handle_each_job_once(backend: Backend) -> None:
    handled: list[tuple[str, int]] = []

    class First(tomodachi.Service):
        name = "first"
        message_envelope = JsonBase

        @pg_queue("work")
        async def handle(self, data: dict[str, int]) -> None:
            await asyncio.sleep(0.005)
            handled.append((self.name, data["n"]))

    class Second(First):
        name = "second"

    async with backend.run(First, Second, **{"pg_queue.concurrency": 3}) as app:
        for n in range(40):
            await pg_enqueue(app["first"], {"n": n}, "work")
        await wait_until(lambda: len(handled) >= 40, within=10, what="40 jobs")
        await asyncio.sleep(0.05)  # a duplicate would show up now
    assert sorted(n for _, n in handled) == list(range(40))
    assert {name for name, _ in handled} == {"first", "second"}


async def test_graceful_stop_gives_an_unfinished_job_back(backend: Backend) -> None:
    started = asyncio.Event()
    attempts: list[int] = []

    class Slow(tomodachi.Service):
        name = "slow"
        message_envelope = JsonBase

        @pg_queue("long")
        async def handle(self, data: Any, attempt: int) -> None:
            attempts.append(attempt)
            started.set()
            await asyncio.sleep(30)

    opts = {"termination_grace_period_seconds": 0.1}
    async with backend.run(Slow, **opts) as app:
        job_id = await pg_enqueue(app.service, {}, "long")
        await asyncio.wait_for(started.wait(), 5)
        store = store_of(app.service)
    # The run ended: the handler was cancelled after the grace period and its job given back.
    if isinstance(store, MemoryJobStore):
        rows = store.jobs.rows
        assert rows[job_id].state == "ready" and rows[job_id].attempts == 0
        return
    done: list[int] = []

    class Quick(tomodachi.Service):
        name = "quick"
        message_envelope = JsonBase

        @pg_queue("long")
        async def handle(self, data: Any, job_id: int, attempt: int) -> None:
            done.append(attempt)

    async with backend.run(Quick) as app:
        await wait_until(lambda: done, within=5, what="the given-back job")
    # Claimed again at once (not after the lock expired), its cancelled attempt not counted.
    assert done == [1]
    assert attempts == [1]


async def test_readiness_follows_an_outage_in_memory() -> None:
    handled: list[Any] = []

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("outage")
        async def handle(self, data: Any) -> None:
            handled.append(data)

    async with run_services(Worker, options={"pg_queue.reconnect_delay_max": 0.05}) as app:
        store = store_of(app.service)
        assert isinstance(store, MemoryJobStore)
        assert app.service.ready and transport_of(app.service).ready
        store.jobs.available = False
        with pytest.raises(StoreUnavailable):
            await pg_enqueue(app.service, {}, "outage")
        assert not transport_of(app.service).ready
        assert app.service.readiness == {"pg_queue": False}
        store.jobs.available = True
        await pg_enqueue(app.service, {"n": 1}, "outage")
        await wait_until(lambda: handled == [{"n": 1}], within=5, what="the job after the outage")
        assert transport_of(app.service).ready


@pytest.mark.postgres
async def test_readiness_follows_a_database_outage() -> None:
    handled: list[Any] = []
    table = unique_table()

    class Worker(tomodachi.Service):
        name = "worker"
        message_envelope = JsonBase

        @pg_queue("outage")
        async def handle(self, data: Any) -> None:
            handled.append(data)

    try:
        async with proxy() as db:
            options = {"pg_queue.dsn": db.dsn, "pg_queue.table": table, "pg_queue.reconnect_delay_max": 0.1}
            async with run_services(Worker, options=options, message_broker=None) as app:
                transport = transport_of(app.service)
                assert transport.ready
                await db.cut()
                await wait_until(lambda: not transport.ready, within=5, what="not ready during the outage")
                assert not app.service.ready
                await db.open()
                await wait_until(lambda: transport.ready, within=5, what="ready again")
                await pg_enqueue(app.service, {"n": 1}, "outage")
                await wait_until(lambda: handled == [{"n": 1}], within=5, what="the job after the outage")
    finally:
        await drop_table(table)


@pytest.mark.postgres
async def test_start_fails_when_the_database_is_unreachable() -> None:
    class Worker(tomodachi.Service):
        name = "worker"

        @pg_queue("nowhere")
        async def handle(self, message: str) -> None: ...

    options = {"pg_queue.dsn": "postgresql://postgres@127.0.0.1:1/postgres", "pg_queue.table": unique_table()}
    with pytest.raises(Exception, match="cannot reach the job database"):
        async with run_services(Worker, options=options, message_broker=None):
            pass


async def test_options_are_validated() -> None:
    with pytest.raises(tomodachi.ConfigurationError, match=r"pg_queue\.table"):
        tomodachi.Options(pg_queue={"table": "Robert'); DROP TABLE students;--"})
    with pytest.raises(Exception, match=r"did you mean .pg_queue\.max_attempts."):
        tomodachi.Options(**{"pg_queue.max_atempts": 3})


async def test_broker_option_selects_the_memory_store_for_one_service() -> None:
    handled: list[str] = []

    class Worker(tomodachi.Service):
        name = "worker"
        options = tomodachi.Options(pg_queue={"broker": "memory", "dsn": "postgresql://nowhere:1/x"})

        @pg_queue("local")
        async def handle(self, message: str) -> None:
            handled.append(message)

    # message_broker=None: only the service's pg_queue.broker option says "memory".
    async with run_services(Worker, message_broker=None) as app:
        assert isinstance(store_of(app.service), MemoryJobStore)
        await pg_enqueue(app.service, "hello", "local")
        await wait_until(lambda: handled == ["hello"], within=5, what="the job in memory")


async def test_a_running_job_keeps_its_claim(backend: Backend) -> None:
    handled: list[tuple[str, int]] = []

    class First(tomodachi.Service):
        name = "first"
        message_envelope = JsonBase

        @pg_queue("long")
        async def handle(self, data: Any, attempt: int) -> None:
            await asyncio.sleep(0.8)  # longer than the lock: extended (every 0.1 s) while it runs
            handled.append((self.name, attempt))

    class Second(First):
        name = "second"

    options = {"pg_queue.lock_seconds": 0.3, "pg_queue.poll_interval": 0.05}
    async with backend.run(First, Second, **options) as app:
        await pg_enqueue(app["first"], {}, "long")
        await wait_until(lambda: handled, within=5, what="the long job")
        await asyncio.sleep(0.9)  # a second claimant would finish now
        assert await store_of(app["first"]).pending("long") == 0
    assert len(handled) == 1 and handled[0][1] == 1


@pytest.mark.postgres
async def test_the_claim_loop_survives_a_dropped_table() -> None:
    handled: list[str] = []
    table = unique_table()

    class Worker(tomodachi.Service):
        name = "worker"

        @pg_queue("again")
        async def handle(self, message: str) -> None:
            handled.append(message)

    options = {"pg_queue.dsn": PG_DSN, "pg_queue.table": table, "pg_queue.reconnect_delay_max": 0.1}
    try:
        async with run_services(Worker, options=options, message_broker=None) as app:
            await drop_table(table)  # every claim now fails with "relation does not exist"
            await wait_until(
                lambda: any(r["message"] == "claiming jobs failed; retrying" for r in app.logs),
                within=10,
                what="the failure logged",
            )
            store = store_of(app.service)
            assert isinstance(store, PostgresJobStore)
            await store.create_table()
            await pg_enqueue(app.service, "hello", "again")
            await wait_until(lambda: handled == ["hello"], within=5, what="the job after the table is back")
    finally:
        await drop_table(table)
