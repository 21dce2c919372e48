"""Cluster-safe schedules on the in-memory lease store, driven by a ManualClock.

Three "replicas" (three service classes with the same ``name``) run in one run and share its
in-memory store: each due time runs once among them. The skew bound, a late (blocked) replica,
an unreachable store (in memory, and a real Redis and PostgreSQL address where nothing listens),
fencing tokens and the set-up errors are checked here; the same
behaviour on Redis and PostgreSQL through real processes is in ``test_cluster_processes.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tomodachi
from tomodachi.container import ServiceContainer, StartupError
from tomodachi.runtime import Runtime
from tomodachi.transport.schedule import ManualClock, use_clock
from tomodachi.transport.schedule.cluster import Lease, MemoryLeaseStore, claim_seconds, memory_store

Logs = Callable[[], list[dict[str, Any]]]
OnClock = Callable[..., Any]
START = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def messages(logs: Logs, text: str) -> list[dict[str, Any]]:
    return [record for record in logs() if text in record.get("message", "")]


def replicas(
    runs: list[tuple[int, str, datetime]], count: int = 3, cluster: bool | str | None = None
) -> list[type[Any]]:
    """*count* classes of one service ``jobs``: a heartbeat and a cron job, recording their runs."""
    classes = []
    for number in range(count):

        class Replica(tomodachi.Service):
            name = "jobs"
            replica = number
            options = tomodachi.Options(schedule={"cluster": "memory"})

            @tomodachi.heartbeat(cluster=cluster)
            async def beat(self, scheduled_time: datetime) -> None:
                runs.append((self.replica, "beat", scheduled_time))

            @tomodachi.schedule(interval="* * * * *", timezone="UTC", cluster=cluster)
            async def cron(self, scheduled_time: datetime) -> None:
                runs.append((self.replica, "cron", scheduled_time))

        classes.append(Replica)
    return classes


def store_of(running: Any) -> MemoryLeaseStore:
    return memory_store(running.runtime)


async def test_each_due_time_runs_once_across_three_replicas(on_clock: OnClock) -> None:
    runs: list[tuple[int, str, datetime]] = []
    async with on_clock(*replicas(runs)) as running:
        await running.clock.advance(180)
    beats = sorted(due for _, name, due in runs if name == "beat")
    crons = sorted(due for _, name, due in runs if name == "cron")
    assert beats == [at(s) for s in range(1, 181)]  # every second once, none twice
    assert crons == [at(60), at(120), at(180)]


async def test_intervals_are_counted_from_the_epoch_so_replicas_agree(on_clock: OnClock) -> None:
    runs: list[tuple[int, str, datetime]] = []

    class Odd(tomodachi.Service):
        name = "odd"
        options = tomodachi.Options(schedule={"cluster": "memory"})

        @tomodachi.schedule(interval=7)
        async def job(self, scheduled_time: datetime) -> None:
            runs.append((0, "job", scheduled_time))

    # 2024-01-01T00:00:00Z is 1704067200 s after the epoch; the next multiple of 7 is ...204.
    async with on_clock(Odd) as running:
        await running.clock.advance(12)
    assert [due for _, _, due in runs] == [at(4), at(11)]


async def test_per_function_cluster_and_opting_out(on_clock: OnClock) -> None:
    runs: list[tuple[int, str, datetime]] = []

    def make(number: int) -> type[tomodachi.Service]:
        class Mixed(tomodachi.Service):
            name = "mixed"

            @tomodachi.heartbeat(cluster="memory")
            async def shared(self, scheduled_time: datetime) -> None:
                runs.append((number, "shared", scheduled_time))

            @tomodachi.heartbeat
            async def everywhere(self, scheduled_time: datetime) -> None:
                runs.append((number, "everywhere", scheduled_time))

        return Mixed

    async with on_clock(make(0), make(1)) as running:
        await running.clock.advance(3)
    assert len([r for r in runs if r[1] == "shared"]) == 3
    assert len([r for r in runs if r[1] == "everywhere"]) == 6


async def test_a_replica_late_within_the_skew_bound_finds_the_claim(on_clock: OnClock) -> None:
    runs: list[tuple[int, str, datetime]] = []
    [cls] = replicas(runs, count=1)
    async with on_clock(cls) as running:
        store = store_of(running)
        keep = claim_seconds(10.0)
        assert keep == 30.0
        # A replica whose clock is 9 s ahead claimed 00:00:20 at 00:00:11 of ours.
        await running.clock.advance_to(at(11))
        assert await store.claim("jobs", "beat", at(20), keep) is not None
        # One 40 s ahead (more than the claim is kept) claimed 00:00:50 at 00:00:10 of ours.
        assert await store.claim("jobs", "beat", at(50), keep) is not None
        await running.clock.advance_to(at(55))
    beats = [due for _, name, due in runs if name == "beat"]
    assert at(20) not in beats  # within the bound: not run twice
    assert at(50) in beats  # beyond it: the claim had expired, the due time ran again
    assert len(beats) == 55 - 1  # 00:00:01 to 00:00:55 but 00:00:20


async def test_a_blocked_replica_does_not_claim_a_due_time_older_than_the_bound(
    on_clock: OnClock, logs: Logs
) -> None:
    runs: list[tuple[int, str, datetime]] = []

    class Slow(tomodachi.Service):
        name = "slow"
        options = tomodachi.Options(schedule={"cluster": "memory", "max_clock_skew": 5})

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime) -> None:
            runs.append((0, "beat", scheduled_time))

    async with on_clock(Slow) as running:
        await running.clock.advance(1)
        await running.clock.jump(20)  # blocked: the catch-up run for 00:00:02 is 19 s late
        await running.clock.advance(2)
    assert [due for _, _, due in runs] == [at(1), at(22), at(23)]
    [skipped] = messages(logs, "too late to claim")
    assert skipped["handler"] == "beat" and skipped["level"] == "warning"
    assert skipped["max_clock_skew"] == 5.0


async def test_an_unreachable_store_skips_the_due_time_with_a_warning(on_clock: OnClock, logs: Logs) -> None:
    runs: list[tuple[int, str, datetime]] = []
    [cls] = replicas(runs, count=1)
    async with on_clock(cls) as running:
        store = store_of(running)
        await running.clock.advance(2)
        store.unreachable = True
        await running.clock.advance(3)
        store.unreachable = False
        await running.clock.advance(2)
    assert [due for _, name, due in runs if name == "beat"] == [at(1), at(2), at(6), at(7)]
    warnings = messages(logs, "lease store unreachable")
    assert len(warnings) == 3
    assert warnings[0]["level"] == "warning" and warnings[0]["store"] == "memory"


async def test_a_store_that_does_not_answer_within_the_bound_counts_as_unreachable(
    on_clock: OnClock, logs: Logs
) -> None:
    runs: list[tuple[int, str, datetime]] = []

    class Hung(tomodachi.Service):
        name = "hung"
        options = tomodachi.Options(schedule={"cluster": "memory", "max_clock_skew": 0.05})

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime) -> None:
            runs.append((0, "beat", scheduled_time))

    async def never(*args: Any) -> None:
        await asyncio.Event().wait()

    async with on_clock(Hung) as running:
        store_of(running).claim = never  # type: ignore[method-assign,assignment]
        await running.clock.advance(1)
        await asyncio.sleep(0.3)  # real time: the claim's deadline is the loop's
    assert runs == []
    [warning] = messages(logs, "lease store unreachable")
    assert warning["error"] == "no answer within schedule.max_clock_skew"


async def test_the_lease_carries_a_growing_fencing_token(on_clock: OnClock) -> None:
    leases: list[Lease] = []
    held: list[bool] = []

    class Fenced(tomodachi.Service):
        name = "fenced"

        @tomodachi.heartbeat(cluster="memory")
        async def beat(self, lease: Lease) -> None:
            leases.append(lease)
            held.append(await lease.still_held())

    async with on_clock(Fenced) as running:
        await running.clock.advance(3)
        assert await leases[0].still_held()  # claims are kept 30 s; this one is 2 s old
        await running.clock.advance(40)
        assert not await leases[0].still_held()
    assert [lease.token for lease in leases[:3]] == [1, 2, 3]
    assert held[:3] == [True, True, True]
    assert leases[0].service == "fenced" and leases[0].function == "beat" and leases[0].due == at(1)


@pytest.mark.parametrize(
    ("decorator", "options", "error"),
    [
        (tomodachi.heartbeat(cluster=True), {}, "cluster=True needs the option schedule.cluster"),
        (tomodachi.heartbeat(cluster="etcd"), {}, "invalid cluster 'etcd'"),
        (
            tomodachi.heartbeat(immediately=True),
            {"schedule.cluster": "memory"},
            "immediately=True cannot be cluster-safe",
        ),
    ],
)
async def test_bad_cluster_declarations_fail_setup(
    decorator: Any, options: dict[str, Any], error: str
) -> None:
    class Bad(tomodachi.Service):
        name = "bad"

        async def job(self) -> None:
            pass

    Bad.options = tomodachi.Options(**options)
    Bad.job = decorator(Bad.job)  # type: ignore[method-assign]
    runtime = Runtime()
    runtime.activate()
    use_clock(runtime, ManualClock(START))
    container = ServiceContainer([Bad], runtime, source="svc.py")
    with pytest.raises(StartupError) as caught:
        await container.setup()
    assert error in str(caught.value)


async def test_lease_parameter_needs_a_cluster_safe_schedule() -> None:
    class NoCluster(tomodachi.Service):
        name = "no-cluster"

        @tomodachi.heartbeat
        async def beat(self, lease: Lease) -> None:
            pass

    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer([NoCluster], runtime, source="svc.py")
    with pytest.raises(StartupError) as caught:
        await container.setup()
    assert "'lease' is given to cluster-safe scheduled functions only" in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"schedule.cluster": "redis", "redis.url": "redis://127.0.0.1:1/0", "redis.connect_timeout": 1},
        {
            "schedule.cluster": "postgres",
            "schedule.postgres_dsn": "postgresql://postgres@127.0.0.1:1/postgres",
        },
    ],
    ids=["redis", "postgres"],
)
async def test_an_unreachable_real_store_skips_with_a_warning(
    on_clock: OnClock, logs: Logs, options: dict[str, Any]
) -> None:
    """Nothing listens on port 1: the claim is refused, the due time skipped and logged."""
    import tomodachi.transport.redis  # the redis.* options

    runs: list[datetime] = []

    class Cut(tomodachi.Service):
        name = "cut"

        @tomodachi.heartbeat
        async def beat(self, scheduled_time: datetime) -> None:
            runs.append(scheduled_time)

    Cut.options = tomodachi.Options(**options)
    async with on_clock(Cut) as running:
        await running.clock.advance(1)
        deadline = asyncio.get_running_loop().time() + 5
        while not messages(logs, "lease store unreachable"):
            assert asyncio.get_running_loop().time() < deadline, "no warning"
            await asyncio.sleep(0.01)
    assert runs == []
    [warning] = messages(logs, "lease store unreachable")
    assert warning["store"] == options["schedule.cluster"] and warning["handler"] == "beat"


async def test_tomodachi_testing_runs_any_store_in_memory() -> None:
    """``run_services`` (message_broker="memory") claims in the in-memory store: no Redis needed."""
    from tomodachi.testing import run_services

    runs: list[int] = []

    def make(number: int) -> type[tomodachi.Service]:
        class OnRedis(tomodachi.Service):
            name = "on-redis"
            options = tomodachi.Options(schedule={"cluster": "redis"})

            @tomodachi.heartbeat
            async def beat(self, lease: Lease) -> None:
                runs.append(lease.token)

        return OnRedis

    clock = ManualClock(START)
    async with run_services(make(0), make(1), clock=clock) as app:
        await clock.advance(5)
        store = memory_store(tomodachi.runtime_of(app.services[0]))
        assert len(store.claims) == 5
    assert runs == [1, 2, 3, 4, 5]
