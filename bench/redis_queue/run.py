"""Redis queue benchmark: tomodachi against plain redis-py with the same semantics, in the same run.

    .venv/bin/python bench/redis_queue/run.py [--messages 20000] [--rounds 5] [--loop uvloop|asyncio]

Each round runs in a fresh process against the Redis at 127.0.0.1:6379: enqueue N small JsonBase
messages (100 enqueues in flight), then consume them (100 in flight, ``XACK`` after the handler
returned). The tomodachi side is a real service run by ``tomodachi.runner.run_files``
(``bench/redis_queue/service.py``: ``redis_enqueue`` and a ``@redis_queue`` handler); the
baseline is plain redis-py code (``bench/redis_queue/plain.py``: ``XADD``, ``XREADGROUP``,
``XACK``). Rounds are interleaved (the order alternates); medians are reported, with the ratio
tomodachi / redis-py for enqueueing, consuming and both together (end to end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KINDS = ("redis-py", "tomodachi")


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _run(coro: Coroutine[Any, Any, Any], loop: str) -> Any:
    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        return runner.run(coro)


async def _delete_keys(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def one_round(kind: str, messages: int, window: int, concurrency: int, loop: str) -> None:
    """Child process: run one side once and print ``RESULT {json}``."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    sys.path.insert(0, HERE)
    prefix = f"tomodachi-bench-{uuid.uuid4().hex[:8]}:"
    try:
        if kind == "redis-py":
            import plain

            result = _run(plain.run(messages, prefix, window, concurrency), loop)
            print("RESULT " + json.dumps(result), flush=True)
            return
        import tomodachi.logging
        from tomodachi.runner import run_files

        os.environ.update(
            BENCH_MESSAGES=str(messages),
            BENCH_PREFIX=prefix,
            BENCH_WINDOW=str(window),
            BENCH_CONCURRENCY=str(concurrency),
        )
        tomodachi.logging.configure("console", "warning")
        code = _run(run_files([os.path.join(HERE, "service.py")], install_signal_handlers=False), loop)
        if code != 0:
            raise SystemExit(code)
    finally:
        _run(_delete_keys(prefix), loop)


def spawn_round(kind: str, messages: int, window: int, concurrency: int, loop: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    command = [sys.executable, __file__, "--one", kind, "--messages", str(messages), "--window", str(window)]
    command += ["--concurrency", str(concurrency), "--loop", loop]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"{kind} round failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures: dict[str, float] = json.loads(lines[-1].removeprefix("RESULT "))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=100, help="enqueues in flight")
    parser.add_argument("--concurrency", type=int, default=100, help="messages in flight")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default=None)
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    loop = args.loop
    if loop is None:
        try:
            import uvloop  # noqa: F401 - `tomodachi run` uses uvloop when installed
        except ImportError:
            loop = "asyncio"
        else:
            loop = "uvloop"
    if args.one:
        one_round(args.one, args.messages, args.window, args.concurrency, loop)
        return

    n = args.messages
    print(
        f"Redis queue benchmark: {n} JsonBase messages, {args.rounds} interleaved rounds, loop {loop}, "
        "Redis at 127.0.0.1"
    )
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for round_number in range(args.rounds):
        order = KINDS if round_number % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            figures = spawn_round(kind, n, args.window, args.concurrency, loop)
            results[kind].append(figures)
            total = figures["publish_seconds"] + figures["consume_seconds"]
            print(
                f"  round {round_number + 1} {kind:<9}  enqueue {n / figures['publish_seconds']:8.0f} msg/s"
                f"  consume {n / figures['consume_seconds']:8.0f} msg/s  end-to-end {n / total:8.0f} jobs/s"
            )

    def median_rate(kind: str, key: str) -> float:
        values = []
        for figures in results[kind]:
            seconds = (
                figures["publish_seconds"] + figures["consume_seconds"] if key == "total" else figures[key]
            )
            values.append(n / seconds)
        return float(statistics.median(values))

    print("\nmedians (jobs/s)       redis-py   tomodachi   ratio")
    for label, key in (
        ("enqueue", "publish_seconds"),
        ("consume", "consume_seconds"),
        ("end-to-end", "total"),
    ):
        base, ours = median_rate("redis-py", key), median_rate("tomodachi", key)
        print(f"  {label:<18} {base:9.0f}   {ours:9.0f}   {ours / base:5.2f}x")
    print("client CPU per message (median, us)")
    for label, key in (("enqueue", "publish_cpu"), ("consume", "consume_cpu")):
        base = statistics.median(f[key] for f in results["redis-py"]) / n * 1e6
        ours = statistics.median(f[key] for f in results["tomodachi"]) / n * 1e6
        print(f"  {label:<18} {base:9.1f}   {ours:9.1f}   {ours - base:+5.1f} us")


if __name__ == "__main__":
    main()
