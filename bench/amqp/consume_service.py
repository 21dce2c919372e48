"""The tomodachi side of ``bench/amqp/callgrind.py``: consume the queued messages, then exit.

Configured by ``BENCH_PREFIX`` and ``BENCH_MESSAGES``, with the options of ``service.py``;
callgrind counts from the first message to the last (``callgrind.toggle``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service as publish_consume  # the benchmark's own modules, next to this file
from callgrind import toggle

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "2000"))


class ConsumeService(tomodachi.Service):
    name = "bench-amqp-consume"
    message_envelope = JsonBase
    options = publish_consume.BenchService.options  # the same prefixes and prefetch

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
