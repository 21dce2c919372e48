"""The baseline: what a hand-written ``asyncio.sleep`` loop per function achieves.

BENCH_MODE=heartbeat: BENCH_FUNCTIONS tasks run ``while True: await asyncio.sleep(1); work()``
for BENCH_SECONDS and record, at each handler start, the lateness against the intended
one-second grid (``start + k``; the sleep loop drifts, as such loops do) and against the time its
own sleep was due. BENCH_MODE=idle: the same number of tasks sleeping for an hour; the process
CPU time over BENCH_SECONDS. Results go to BENCH_OUT (JSON). BENCH_LOOP: asyncio or uvloop.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

MODE = os.environ.get("BENCH_MODE", "heartbeat")
FUNCTIONS = int(os.environ.get("BENCH_FUNCTIONS", "200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
OUT = os.environ.get("BENCH_OUT", "")
LOOP = os.environ.get("BENCH_LOOP", "asyncio")


async def main() -> None:
    grid: list[float] = []
    own: list[float] = []
    start = time.time()

    async def beat() -> None:
        k = 0
        while True:
            due = time.time() + 1.0
            await asyncio.sleep(1.0)
            k += 1
            now = time.time()
            grid.append(now - (start + k))
            own.append(now - due)

    async def idle() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.ensure_future(beat() if MODE == "heartbeat" else idle()) for _ in range(FUNCTIONS)]
    if MODE == "heartbeat":
        await asyncio.sleep(SECONDS + 0.5)
        cpu = wall = 0.0
    else:
        await asyncio.sleep(1.0)
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(SECONDS)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result = {"mode": MODE, "lateness": grid, "own_lateness": own, "cpu_seconds": cpu, "wall_seconds": wall}
    if OUT:
        _write(OUT, result)


def _write(path: str, result: dict[str, object]) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file)


if __name__ == "__main__":
    if LOOP == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
