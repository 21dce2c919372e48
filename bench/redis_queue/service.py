"""The tomodachi side of the Redis queue benchmark: enqueue N JsonBase messages, then consume them.

Run by ``bench/redis_queue/run.py`` through ``tomodachi.runner.run_files`` (a fresh process per
round). Environment: ``BENCH_MESSAGES``, ``BENCH_PREFIX`` (key prefix), ``BENCH_WINDOW``
(concurrent enqueues), ``BENCH_CONCURRENCY`` (messages in flight). Prints ``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.transport.redis import redis_enqueue, redis_queue

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "20000"))
PREFIX = os.environ.get("BENCH_PREFIX", "tomodachi-bench:")
WINDOW = int(os.environ.get("BENCH_WINDOW", "100"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "100"))


class BenchService(tomodachi.Service):
    name = "bench-redis"
    message_envelope = JsonBase
    options = tomodachi.Options(
        redis={"key_prefix": PREFIX, "concurrency": CONCURRENCY, "poll_interval": 0.5, "trim_interval": 0}
    )

    def __init__(self) -> None:
        # Plain attributes in a list (Service.__setattr__ would slow the handler down).
        self.handled = [0]
        self.figures: dict[str, float] = {}

    @redis_queue("bench")
    async def handle(self, data: dict[str, Any]) -> None:
        handled = self.handled
        handled[0] += 1
        if handled[0] == MESSAGES:
            figures = self.figures
            figures["consume_seconds"] = time.perf_counter() - figures.pop("consume_started")
            figures["consume_cpu"] = time.process_time() - figures.pop("consume_cpu_started")
            print("RESULT " + json.dumps(figures), flush=True)
            tomodachi.exit(0)

    async def _started_service(self) -> None:
        # The consumer starts once this returns (Transport.started): enqueue everything first.
        begin, cpu = time.perf_counter(), time.process_time()
        for first in range(0, MESSAGES, WINDOW):
            await asyncio.gather(
                *(
                    redis_enqueue(self, {"n": n, "name": "bench", "ok": True}, "bench")
                    for n in range(first, min(first + WINDOW, MESSAGES))
                )
            )
        end, cpu_end = time.perf_counter(), time.process_time()
        self.figures.update(
            publish_seconds=end - begin,
            publish_cpu=cpu_end - cpu,
            consume_started=end,
            consume_cpu_started=cpu_end,
        )
