"""Cost of instrumentation per HTTP request and per message, against the same run uninstrumented.

    python bench/otel/run.py [--requests 3000] [--messages 5000] [--rounds 5]

In one process, interleaved rounds of the same services (``tomodachi.testing.run_services``):

- HTTP: sequential keep-alive GETs to a route with a path parameter over loopback, access log
  off; the figure is the wall time per request.
- messages: ``amqp_publish`` + an ``@amqp`` handler on the in-memory broker (JsonBase), one
  message at a time end to end (a producer span and a consumer span per message when on).

Modes: ``off`` (nothing installed: the hooks' one attribute check), ``otel``
(``TomodachiInstrumentor`` with an SDK ``TracerProvider`` whose ``BatchSpanProcessor`` exports
to a no-op exporter, and a ``MeterProvider`` with an in-memory reader), and ``prometheus``
(``ops.metrics``' prometheus_client instrumentation alone). Medians of the rounds are printed,
with the cost in µs against ``off``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import tomodachi
from tomodachi.testing import run_services


class Api(tomodachi.Service):
    name = "bench-api"
    options = tomodachi.Options(http={"access_log": False})

    @tomodachi.http("GET", r"/orders/(?P<order_id>[0-9]+)")
    async def order(self, order_id: str) -> str:
        return order_id


class Worker(tomodachi.Service):
    name = "bench-worker"
    message_envelope = tomodachi.envelope.JsonBase
    target = 0
    count = 0
    done: asyncio.Event

    @tomodachi.amqp("bench.#")
    async def handle(self, data: Any) -> None:
        self.count += 1
        if self.count >= self.target:
            self.done.set()


async def http_round(requests: int) -> float:
    async with run_services(Api, capture_logs=False) as app, app.client() as client:
        for _ in range(200):  # warm-up
            async with client.get("/orders/1") as response:
                await response.read()
        started = time.perf_counter()
        for n in range(requests):
            async with client.get(f"/orders/{n}") as response:
                await response.read()
        return (time.perf_counter() - started) / requests * 1e6


async def message_round(messages: int) -> float:
    async with run_services(Worker, capture_logs=False) as app:
        worker = app[Worker]
        assert isinstance(worker, Worker)
        for target, measured in ((200, False), (messages, True)):  # warm-up, then measured
            worker.count, worker.target, worker.done = 0, target, asyncio.Event()
            started = time.perf_counter()
            for n in range(target):
                await tomodachi.amqp_publish(worker, {"n": n}, "bench.x")
            await asyncio.wait_for(worker.done.wait(), 60)
            if measured:
                return (time.perf_counter() - started) / messages * 1e6
    raise AssertionError("unreachable")


def otel_mode() -> tuple[Callable[[], None], Callable[[], None]]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from tomodachi.opentelemetry import TomodachiInstrumentor

    class Drop(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrumentor = TomodachiInstrumentor()

    def on() -> None:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)

    return on, instrumentor.uninstrument


def prometheus_mode() -> tuple[Callable[[], None], Callable[[], None]]:
    from tomodachi.ops.prometheus import acquire, release

    def on() -> None:
        acquire()

    return on, release


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    tomodachi.logging.configure("disabled")  # the same for every mode; keeps the output readable
    modes: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {"off": (lambda: None, lambda: None)}
    modes["otel"] = otel_mode()
    try:
        modes["prometheus"] = prometheus_mode()
    except ImportError:
        pass
    results: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
        for mode in order:
            on, off = modes[mode]
            on()
            try:
                results.setdefault(("http", mode), []).append(await http_round(args.requests))
                results.setdefault(("message", mode), []).append(await message_round(args.messages))
            finally:
                off()
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds (medians), µs per unit end to end")
    for kind, unit in (("http", "request"), ("message", "message")):
        base = statistics.median(results[(kind, "off")])
        line = f"{kind:8} per {unit:8} off {base:7.1f} µs"
        for mode in modes:
            if mode == "off":
                continue
            value = statistics.median(results[(kind, mode)])
            line += f"   {mode} {value:7.1f} µs (+{value - base:5.1f} µs, {value / base:4.2f}x)"
        print(line)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
