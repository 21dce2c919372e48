"""Cluster-safe schedules through real processes: three ``tomodachi run`` replicas on one store.

Each replica prints one line per run (function, due time, fencing token, pid). Over a few
seconds every due time runs exactly once across the three; then the replica that ran the latest
heartbeat is killed with SIGKILL and the schedule keeps running on the two others, still once
per due time. Once on Redis (marked ``redis``) and once on PostgreSQL (marked ``postgres``).
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests._support import ServiceProcess

SERVICE = """
import os

import tomodachi


class Jobs(tomodachi.Service):
    name = os.environ["JOBS_NAME"]
    options = tomodachi.Options(
        schedule={
            "cluster": os.environ["JOBS_STORE"],
            "max_clock_skew": 2,
            "postgres_dsn": "postgresql://postgres@127.0.0.1:5432/postgres",
        },
        http={"port": None},
    )

    @tomodachi.heartbeat
    async def beat(self, invocation_time: str, lease) -> None:
        print(f"run beat {invocation_time} {lease.token} {os.getpid()}", flush=True)

    # Cron expressions have a resolution of one minute: the second job is a short interval.
    @tomodachi.schedule(interval="2 seconds")
    async def every_two(self, invocation_time: str, lease) -> None:
        print(f"run every_two {invocation_time} {lease.token} {os.getpid()}", flush=True)
"""

RUN = re.compile(r"^run (\w+) (\S+) (\d+) (\d+)$")

Spawn = Callable[..., ServiceProcess]


def _runs(processes: list[ServiceProcess]) -> list[tuple[str, str, int, int]]:
    found = []
    for process in processes:
        for line in list(process.stdout_lines):
            match = RUN.match(line)
            if match:
                found.append((match[1], match[2], int(match[3]), int(match[4])))
    return found


def _wait(predicate: Callable[[], bool], within: float, what: str, processes: list[ServiceProcess]) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            output = "\n---\n".join(p.stderr[-3000:] for p in processes)
            raise AssertionError(f"timed out after {within} s waiting for {what}; stderr:\n{output}")
        time.sleep(0.05)


def _due(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _three_replicas_then_kill_the_holder(store: str, tmp_path: Path, spawn: Spawn) -> str:
    """Run the scenario on *store*; returns the service name (for cleaning up the store)."""
    (tmp_path / "jobs.py").write_text(SERVICE, encoding="utf-8")
    env = {"JOBS_NAME": f"jobs-{uuid.uuid4().hex[:8]}", "JOBS_STORE": store}
    processes = [spawn("run", "--no-reload", "--production", "jobs.py", env=env) for _ in range(3)]
    for process in processes:
        process.wait_for_stderr("started service successfully", timeout=20)
    all_up = datetime.now(UTC)
    # A few seconds with all three up.
    _wait(
        lambda: len([r for r in _runs(processes) if r[0] == "beat" and _due(r[1]) > all_up]) >= 4,
        10,
        "four heartbeats",
        processes,
    )
    before = _runs(processes)
    beats = sorted((r for r in before if r[0] == "beat"), key=lambda r: r[1])
    holder_pid = beats[-1][3]
    [holder] = [p for p in processes if p.proc.pid == holder_pid]
    holder.proc.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    killed_at = datetime.now(UTC)
    survivors = [p for p in processes if p is not holder]
    _wait(
        lambda: len([r for r in _runs(survivors) if r[0] == "beat" and _due(r[1]) > killed_at]) >= 3,
        10,
        "three heartbeats after the kill",
        processes,
    )
    _wait(
        lambda: any(r[0] == "every_two" and _due(r[1]) > killed_at for r in _runs(survivors)),
        10,
        "an every_two run after the kill",
        processes,
    )
    for process in survivors:
        process.send(signal.SIGINT)
    for process in survivors:
        assert process.wait(timeout=20) == 0, process.stderr[-3000:]

    runs = _runs(processes)
    for name in ("beat", "every_two"):
        dues = [r[1] for r in runs if r[0] == name]
        assert len(dues) == len(set(dues)), f"{name}: a due time ran twice: {sorted(dues)}"
        tokens = [r[2] for r in runs if r[0] == name]
        assert len(tokens) == len(set(tokens)), f"{name}: a fencing token was given twice"
    # Every due time while all three were up ran exactly once (none lost, none doubled).
    window = [_due(r[1]) for r in before if r[0] == "beat" and all_up < _due(r[1]) <= _due(beats[-1][1])]
    first, last = min(window), max(window)
    assert sorted(window) == [first + timedelta(seconds=s) for s in range((last - first).seconds + 1)]
    # Runs were shared: more than one replica ran something, and the survivors went on.
    assert len({r[3] for r in runs}) >= 2
    after = [r for r in runs if _due(r[1]) > killed_at]
    assert after and all(r[3] != holder_pid for r in after)
    every_two = sorted(_due(r[1]) for r in runs if r[0] == "every_two")
    assert all(due.timestamp() % 2 == 0 for due in every_two)  # counted from the epoch
    return env["JOBS_NAME"]


@pytest.mark.redis
def test_three_replicas_on_redis_run_each_due_time_once(tmp_path: Path, spawn: Spawn) -> None:
    name = _three_replicas_then_kill_the_holder("redis", tmp_path, spawn)
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        keys = list(client.scan_iter(match=f"tomodachi:schedule:{{{name}:*"))
        assert any(key.endswith(b":token") for key in keys)  # the fencing counters
        client.delete(*keys)
    finally:
        client.close()


@pytest.mark.postgres
def test_three_replicas_on_postgres_run_each_due_time_once(tmp_path: Path, spawn: Spawn) -> None:
    name = _three_replicas_then_kill_the_holder("postgres", tmp_path, spawn)

    async def clean() -> int:
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            status: str = await conn.execute("DELETE FROM tomodachi_schedule_runs WHERE service = $1", name)
            return int(status.split()[-1])
        finally:
            await conn.close()

    assert asyncio.run(clean()) > 5  # the claims were rows of the table
