"""In-memory broker: client CPU per delivery of an ``@amqp`` and an ``@aws_sns_sqs`` handler.

    python bench/memory/run.py [--messages 20000] [--rounds 5]

In one process (``tomodachi.testing.run_services``, the in-memory brokers), per round and kind:
CPU time (``time.process_time``) to publish N JsonBase messages that nobody consumes, and to
publish N that one handler consumes (decode, call, settle). The difference per message is what
consuming costs: the receive loop, the handler's task, the envelope, the settle decision, the ack.
Rounds are interleaved; medians are printed with the spread (min-max) of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "src"))

import tomodachi
from tomodachi.testing import run_services


class AmqpWorker(tomodachi.Service):
    name = "bench-memory-amqp"
    message_envelope = tomodachi.envelope.JsonBase
    target = 0
    count = 0
    done: asyncio.Event

    @tomodachi.amqp("bench.#")
    async def handle(self, data: Any) -> None:
        self.count += 1
        if self.count >= self.target:
            self.done.set()

    async def publish(self, n: int, consumed: bool) -> None:
        await tomodachi.amqp_publish(self, {"n": n}, "bench.x" if consumed else "nobody.x")


class SnsSqsWorker(tomodachi.Service):
    name = "bench-memory-sns-sqs"
    message_envelope = tomodachi.envelope.JsonBase
    target = 0
    count = 0
    done: asyncio.Event

    @tomodachi.aws_sns_sqs("bench-topic", queue_name="bench-queue")
    async def handle(self, data: Any) -> None:
        self.count += 1
        if self.count >= self.target:
            self.done.set()

    async def publish(self, n: int, consumed: bool) -> None:
        await tomodachi.aws_sns_sqs_publish(self, {"n": n}, "bench-topic" if consumed else "nobody-topic")


async def cpu_per_message(cls: Any, messages: int) -> float:
    """CPU µs per message to publish and consume, minus CPU µs per message to publish only."""
    async with run_services(cls, capture_logs=False) as app:
        worker = app[cls]
        figures = {}
        for consumed, target in ((True, 200), (False, messages), (True, messages)):  # warm-up first
            worker.count, worker.target, worker.done = 0, target, asyncio.Event()
            started = time.process_time()
            for n in range(target):
                await worker.publish(n, consumed)
            if consumed:
                await asyncio.wait_for(worker.done.wait(), 120)
            figures[consumed] = (time.process_time() - started) / target * 1e6
        return figures[True] - figures[False]


async def main(argv: list[str]) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    # The start/stop lines of every round, and the start-up warning that the handlers have no
    # dead-letter destination (they have none by design here), are noise in this output.
    tomodachi.logging.configure("console", "error")
    kinds = (("amqp (in-memory)", AmqpWorker), ("sns+sqs (in-memory)", SnsSqsWorker))
    results: dict[str, list[float]] = {label: [] for label, _ in kinds}
    for _ in range(args.rounds):
        for label, cls in kinds:
            results[label].append(await cpu_per_message(cls, args.messages))
    print(f"# bench/memory  {args.messages} messages, {args.rounds} interleaved rounds; CPU per delivery")
    for label, values in results.items():
        median = statistics.median(values)
        print(f"  {label:<22} {median:6.1f} µs per delivery  (rounds {min(values):.1f} - {max(values):.1f})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
