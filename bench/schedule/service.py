"""The services the schedule benchmark runs through ``tomodachi run`` (configured by BENCH_* env).

BENCH_MODE=heartbeat: BENCH_FUNCTIONS ``@heartbeat`` functions record their lateness (handler
start minus due time) for BENCH_SECONDS; BENCH_MODE=idle: BENCH_FUNCTIONS ``@hourly`` functions,
and the process CPU time used over BENCH_SECONDS once started. Results go to BENCH_OUT (JSON).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from typing import Any

import tomodachi

MODE = os.environ.get("BENCH_MODE", "heartbeat")
FUNCTIONS = int(os.environ.get("BENCH_FUNCTIONS", "200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
OUT = os.environ.get("BENCH_OUT", "")

lateness: list[float] = []
measured: dict[str, float] = {}


def _heartbeat_handler() -> Any:
    async def beat(self: Any, scheduled_time: datetime) -> None:
        lateness.append(time.time() - scheduled_time.timestamp())

    return tomodachi.heartbeat(beat)


def _hourly_handler() -> Any:
    async def job(self: Any) -> None:
        pass

    return tomodachi.hourly(job)


async def _started(self: Any) -> None:
    loop = asyncio.get_running_loop()
    if MODE == "heartbeat":
        # Half a second past the last due time, so that it is measured too.
        loop.call_later(SECONDS + 0.5, _finish)
    else:
        # Idle: measure from one second after start-up (the scheduler's first computations).
        loop.call_later(1.0, _begin)
        loop.call_later(1.0 + SECONDS, _finish)


def _begin() -> None:
    measured["cpu_start"] = time.process_time()
    measured["wall_start"] = time.monotonic()


def _finish() -> None:
    measured["cpu_end"] = time.process_time()
    measured["wall_end"] = time.monotonic()
    tomodachi.exit(0)


async def _stop(self: Any) -> None:
    result = {
        "mode": MODE,
        "functions": FUNCTIONS,
        "lateness": lateness,
        "cpu_seconds": measured.get("cpu_end", 0.0) - measured.get("cpu_start", 0.0),
        "wall_seconds": measured.get("wall_end", 0.0) - measured.get("wall_start", 0.0),
        "loop": type(asyncio.get_running_loop()).__module__,
    }
    if OUT:
        _write(OUT, result)


def _write(path: str, result: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file)


make = _heartbeat_handler if MODE == "heartbeat" else _hourly_handler
namespace: dict[str, Any] = {f"job_{i:03d}": make() for i in range(FUNCTIONS)}
namespace.update(name=f"bench-schedule-{MODE}", _started_service=_started, _stop_service=_stop)
BenchService = type("BenchService", (tomodachi.Service,), namespace)
