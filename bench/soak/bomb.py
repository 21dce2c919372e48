"""Decompression bomb: peak RSS and the longest event-loop stall while a service rejects one.

    .venv/bin/python bench/soak/bomb.py [--sizes 0.5,5] [--limit-gb 8] [--max-message-size N]

Not run in CI. For each size (MB of payload on the wire) a fresh child process runs a service
with an HTTP route and an ``@aws_sns_sqs`` handler (JsonBase) on the in-memory broker, publishes
one JsonBase message whose ``base64_gzip_json`` data inflates about 1000-fold, and waits until it
is settled. Meanwhile a ticker measures the longest event-loop stall and a client keeps asking the
HTTP route (slowest answer reported). The child's address space is limited to ``--limit-gb`` so a
version without a cap fails with MemoryError instead of taking the machine down.

Printed per size: payload bytes, inflated bytes, peak RSS (MB, and growth over the idle service),
longest loop stall (ms), slowest HTTP answer (ms), and how the message was settled.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
import zlib
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_bomb(payload_mb: float) -> tuple[str, int]:
    """A JsonBase message of about *payload_mb* MB whose data inflates to a JSON string."""
    chunk = zlib.compressobj(9)
    parts = [chunk.compress(b'"')]
    block = b"a" * (1 << 20)
    inflated = 1
    target = int(payload_mb * 1_000_000 * 3 / 4)  # base64 grows by 4/3
    size = 0
    while size < target:
        out = chunk.compress(block)
        parts.append(out)
        size += len(out)
        inflated += len(block)
    parts.append(chunk.compress(b'"'))
    parts.append(chunk.flush())
    inflated += 1
    data = base64.b64encode(b"".join(parts)).decode("ascii")
    message = {
        "service": {"name": "bomber", "uuid": "x"},
        "metadata": {
            "message_uuid": "x.bomb",
            "protocol_version": "tomodachi-json-base--1.0.0",
            "compatible_protocol_versions": ["json_base-wip"],
            "timestamp": time.time(),
            "topic": "bomb",
            "data_encoding": "base64_gzip_json",
        },
        "data": data,
    }
    return json.dumps(message), inflated


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(payload_mb: float, max_message_size: int | None) -> dict[str, Any]:
    import aiohttp.web

    import tomodachi
    from tomodachi.envelope import JsonBase
    from tomodachi.testing import run_services

    class RawEnvelope:
        @classmethod
        async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
            return str(data)

        @classmethod
        async def parse_message(cls, payload: Any, **kwargs: Any) -> Any:
            return {"data": payload}, None, None

    class Bomber(tomodachi.Service):
        name = "bomber"
        message_envelope = RawEnvelope

        @tomodachi.aws_sns_sqs("unused")
        async def unused(self, data: Any) -> None:
            pass

    class Target(tomodachi.Service):
        name = "target"
        message_envelope = JsonBase

        @tomodachi.http("GET", r"/ping")
        async def ping(self, request: Any) -> aiohttp.web.Response:
            return aiohttp.web.Response(text="pong")

        @tomodachi.aws_sns_sqs("bomb")
        async def on_bomb(self, data: Any) -> None:
            pass

    bomb, inflated = make_bomb(payload_mb)
    options: dict[str, Any] = {"http.port": 0}
    if max_message_size is not None:  # an option of the bounded version only
        options["max_message_size"] = max_message_size
    async with run_services(Target, Bomber, options=options, log_level="warning") as app:
        client = app.client(Target)
        await client.get("/ping")
        idle_rss = _rss_mb()
        stall = 0.0
        slowest = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal stall
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                stall = max(stall, time.perf_counter() - before - 0.001)

        url = str(app.url("/ping", Target))

        def pinger() -> None:
            # From another thread, so that a request waiting on a stalled loop is timed too.
            nonlocal slowest
            while not done.is_set():
                before = time.perf_counter()
                with urllib.request.urlopen(url, timeout=600) as response:
                    response.read()
                slowest = max(slowest, time.perf_counter() - before)
                time.sleep(0.005)

        tasks = [asyncio.create_task(ticker()), asyncio.create_task(asyncio.to_thread(pinger))]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        delivery = await app.publish("bomb", bomb, service=Bomber)
        report = await delivery.outcome(timeout=600)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.05)
        done.set()
        await asyncio.gather(*tasks)
        reason = report.attempts[-1].reason if report.attempts else ""
        return {
            "payload_bytes": len(bomb),
            "inflated_bytes": inflated,
            "idle_rss_mb": round(idle_rss, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
            "rss_growth_mb": round(_rss_mb() - idle_rss, 1),
            "longest_stall_ms": round(stall * 1000, 1),
            "slowest_http_ms": round(slowest * 1000, 1),
            "settled_s": round(elapsed, 2),
            "result": f"{report.result} ({reason})",
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0.5,5")
    parser.add_argument("--limit-gb", type=float, default=8.0)
    parser.add_argument("--max-message-size", type=int, default=None, help="the option, if set")
    parser.add_argument("--child", type=float, default=None)
    args = parser.parse_args()
    if args.child is not None:
        limit = int(args.limit_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        sys.path.insert(0, os.path.join(ROOT, "src"))
        print("RESULT " + json.dumps(asyncio.run(child(args.child, args.max_message_size))), flush=True)
        return
    for size in (float(s) for s in args.sizes.split(",")):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--limit-gb", str(args.limit_gb)]
            + ([] if args.max_message_size is None else ["--max-message-size", str(args.max_message_size)]),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if lines:
            print(f"{size} MB bomb: {lines[-1][7:]}")
        else:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{size} MB bomb: child failed (exit {proc.returncode}): {tail}")


if __name__ == "__main__":
    main()
