"""The tomodachi side of the AMQP benchmark: publish N JsonBase messages, then consume them.

Run by ``bench/amqp/run.py`` through ``tomodachi.runner.run_files`` (in a fresh process per
round). Configured by environment variables: ``BENCH_MESSAGES``, ``BENCH_PREFIX``,
``BENCH_WINDOW`` (concurrent publishes). Prints one ``RESULT {json}`` line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "20000"))
PREFIX = os.environ.get("BENCH_PREFIX", "tomodachi-bench.")
WINDOW = int(os.environ.get("BENCH_WINDOW", "100"))


class BenchService(tomodachi.Service):
    name = "bench-amqp"
    message_envelope = JsonBase
    options = tomodachi.Options(
        **{
            "amqp.routing_key_prefix": PREFIX,
            "amqp.queue_name_prefix": PREFIX,
            "amqp.queue_ttl": 600,
            "amqp.qos.queue_prefetch_count": 100,
        }
    )

    def __init__(self) -> None:
        # A plain counter, like the baseline's (attribute writes on a Service go through
        # Service.__setattr__, which would make the handler itself slower than the baseline's).
        self.handled = [0]
        self.publish_seconds = 0.0
        self.consume_started = 0.0
        self.publish_cpu = 0.0
        self.consume_cpu_started = 0.0
        self.published = asyncio.Event()

    @tomodachi.amqp("bench.message", competing=True, queue_name="queue")
    async def handle(self, data: dict[str, Any]) -> None:
        # AMQP consumers run before _started_service (as in the original): the first prefetch
        # window waits here until everything is published, like the baseline's publish-then-consume.
        if not self.published.is_set():
            await self.published.wait()
        handled = self.handled
        handled[0] += 1
        if handled[0] == MESSAGES:
            consume_seconds = time.perf_counter() - self.consume_started
            result = {
                "publish_seconds": self.publish_seconds,
                "consume_seconds": consume_seconds,
                "publish_cpu": self.publish_cpu,
                "consume_cpu": time.process_time() - self.consume_cpu_started,
            }
            print("RESULT " + json.dumps(result), flush=True)
            tomodachi.exit(0)

    async def _started_service(self) -> None:
        # The queue exists and is consumed (declared and consumed at start); handlers wait for
        # `published`.
        begin, cpu = time.perf_counter(), time.process_time()
        for first in range(0, MESSAGES, WINDOW):
            await asyncio.gather(
                *(
                    tomodachi.amqp_publish(self, {"n": n, "name": "bench", "ok": True}, "bench.message")
                    for n in range(first, min(first + WINDOW, MESSAGES))
                )
            )
        end, cpu_end = time.perf_counter(), time.process_time()
        self.publish_seconds, self.publish_cpu = end - begin, cpu_end - cpu
        self.consume_started, self.consume_cpu_started = end, cpu_end
        self.published.set()
