"""The tomodachi side of ``bench/amqp/callgrind.py``: consume the queued messages, then exit.

Configured by ``BENCH_PREFIX`` and ``BENCH_MESSAGES``; callgrind counts from the first message to
the last (``callgrind.toggle``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind import toggle  # the benchmark's own module, next to this file

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "2000"))
PREFIX = os.environ.get("BENCH_PREFIX", "tomodachi-bench-cg.")


class ConsumeService(tomodachi.Service):
    name = "bench-amqp-consume"
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
        self.handled = [0]  # a plain counter (attribute writes on a Service cost more)

    @tomodachi.amqp("bench.message", competing=True, queue_name="queue")
    async def handle(self, data: dict[str, Any]) -> None:
        handled = self.handled
        handled[0] += 1
        if handled[0] == 1:
            toggle(True)
        if handled[0] == MESSAGES:
            toggle(False)
            tomodachi.exit(0)
