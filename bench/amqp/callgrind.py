"""AMQP consume cost in instructions: tomodachi against plain aio-pika, counted by callgrind.

    .venv/bin/python bench/amqp/callgrind.py [--messages 2000]

CPU time per message on a shared machine varies by a tenth between runs, which hides a few
microseconds of difference; instruction counts do not vary (valgrind's callgrind counts the
instructions a process executes, whatever else the machine does). For each side, N small JsonBase
messages are queued on the RabbitMQ at 127.0.0.1:5672 (not measured), then consumed by one
process under ``valgrind --tool=callgrind``, which turns counting on at the first message and off
at the last: prefetch 100, ack after the handler returned, the JsonBase envelope parsed. The
tomodachi side is a real service run by ``tomodachi.runner.run_files``
(``bench/amqp/consume_service.py``), the baseline plain aio-pika code. Printed: instructions per
message for each, the difference, and that difference in microseconds at the baseline's own
rate (its CPU time per message, the median of three runs without valgrind in the same run).

Needs ``valgrind`` (Debian package ``valgrind``); counts only user-space instructions.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
URL = "amqp://guest:guest@127.0.0.1:5672/"


def toggle(on: bool) -> None:
    """Turn callgrind's counting on or off for this process (no-op without valgrind)."""
    if os.environ.get("BENCH_CALLGRIND"):
        action = "on" if on else "off"
        command = ["callgrind_control", "-i", action, str(os.getpid())]
        subprocess.run(command, capture_output=True, check=False)


async def publish(prefix: str, messages: int) -> None:
    import aio_pika

    from tomodachi.envelope import JsonBase

    class Publisher:
        name = "bench-amqp"
        uuid = str(uuid.uuid4())

    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"{prefix}queue", durable=True, arguments={"x-expires": 600_000})
        await queue.bind("amq.topic", f"{prefix}bench.message")
        exchange = await channel.get_exchange("amq.topic", ensure=False)

        async def one(n: int) -> None:
            data = {"n": n, "name": "bench", "ok": True}
            body = await JsonBase.build_message(Publisher, "bench.message", data)
            message = aio_pika.Message(body.encode(), message_id=uuid.uuid4().hex, delivery_mode=2)
            await exchange.publish(message, f"{prefix}bench.message")

        for first in range(0, messages, 200):
            await asyncio.gather(*(one(n) for n in range(first, min(first + 200, messages))))


async def consume_plain(prefix: str, messages: int) -> float:
    """Consume with plain aio-pika; returns the CPU seconds the consuming took."""
    import aio_pika

    from tomodachi.envelope import JsonBase

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(f"{prefix}queue", durable=True, arguments={"x-expires": 600_000})
        done = asyncio.Event()
        handled = 0
        cpu = 0.0

        async def handler(data: object) -> None:
            nonlocal handled, cpu
            handled += 1
            if handled == 1:
                cpu = time.process_time()
                toggle(True)
            if handled == messages:
                toggle(False)
                cpu = time.process_time() - cpu
                done.set()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            parsed, _uuid, _timestamp = await JsonBase.parse_message(message.body.decode("utf-8"))
            await handler(parsed["data"])
            await message.ack()

        tag = await queue.consume(on_message, no_ack=False)
        await done.wait()
        await queue.cancel(tag)
        await channel.queue_delete(queue.name)
    return cpu


def child(kind: str, prefix: str, messages: int) -> None:
    import uvloop

    os.environ.update(BENCH_PREFIX=prefix, BENCH_MESSAGES=str(messages))
    if kind == "aio-pika":
        print(f"CPU {uvloop.run(consume_plain(prefix, messages))}")
        return
    import tomodachi.logging
    from tomodachi.runner import run_files

    tomodachi.logging.configure("console", "warning")
    uvloop.run(run_files([os.path.join(HERE, "consume_service.py")], install_signal_handlers=False))


def run_child(kind: str, messages: int, callgrind: bool) -> tuple[float, str]:
    """Queue N messages, consume them in a child; (instructions or CPU seconds, child output)."""
    prefix = f"tomodachi-bench-cg-{uuid.uuid4().hex[:8]}."
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    subprocess.run(
        [sys.executable, __file__, "--publish", prefix, "--messages", str(messages)], env=env, check=True
    )
    command = [sys.executable, __file__, "--child", kind, prefix, "--messages", str(messages)]
    if not callgrind:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return float(result.stdout.split("CPU ")[-1].split()[0]), result.stdout
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        env["BENCH_CALLGRIND"] = "1"
        result = subprocess.run([*valgrind, *command], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"{kind} under callgrind failed:\n{result.stdout}\n{result.stderr}")
        total = 0
        for path in glob.glob(out + "*"):
            with open(path) as file:
                for line in file:
                    if line.startswith(("summary:", "totals:")):
                        total += int(line.split()[1])
        return float(total), result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PREFIX"), help=argparse.SUPPRESS)
    parser.add_argument("--publish", metavar="PREFIX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        asyncio.run(publish(args.publish, args.messages))
        return
    if args.child:
        child(args.child[0], args.child[1], args.messages)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    n = args.messages
    print(f"AMQP consume, instructions per message (callgrind), {n} JsonBase messages, RabbitMQ at 127.0.0.1")
    # The baseline's CPU time per message (median of three runs without valgrind): the rate
    # that turns the difference in instructions into microseconds.
    base_cpu = statistics.median(run_child("aio-pika", n, callgrind=False)[0] for _ in range(3))
    base, _ = run_child("aio-pika", n, callgrind=True)
    ours, _ = run_child("tomodachi", n, callgrind=True)
    base_i, ours_i = base / n, ours / n
    us_per_instruction = base_cpu / n * 1e6 / base_i
    extra_us = (ours_i - base_i) * us_per_instruction
    print(f"  plain aio-pika  {base_i:10.0f} instructions/message  (CPU {base_cpu / n * 1e6:.1f} us/message)")
    print(f"  tomodachi       {ours_i:10.0f} instructions/message")
    print(
        f"  difference      {ours_i - base_i:+10.0f} instructions/message = {ours_i / base_i - 1:+.1%}"
        f" = {extra_us:+.1f} us at aio-pika's rate  (target <= +5 us)"
    )


if __name__ == "__main__":
    main()
