"""SNS+SQS benchmark: a tomodachi service against plain aiobotocore code, end to end, same run.

    .venv/bin/python bench/sns_sqs/run.py [--messages 2000] [--rounds 3] [--publishers 10] [--window 50]

Starts a moto server (``python -m moto.server``, its own process) on a free port. Each round, on
fresh topic and queue names:

- tomodachi: a service with one ``@tomodachi.aws_sns_sqs`` handler (JsonBase envelope,
  ``max_number_of_consumed_messages=10``) runs in this process; ``--messages`` JsonBase messages
  are published with ``tomodachi.aws_sns_sqs_publish`` by ``--publishers`` concurrent tasks;
  the clock stops when the handler has seen every message (and the last one is deleted).
- baseline: the same with plain aiobotocore: CreateTopic/CreateQueue/SetQueueAttributes/
  Subscribe, ``Publish`` of hand-built JsonBase bodies, and one loop that long-polls 10 messages,
  handles them concurrently (unwrap the notification, decode the payload) and deletes each one.

Rounds alternate which side goes first; the figures are medians of msgs/s. moto handles every
call in Python and closes the connection after each response, so it is the bottleneck: a ratio
near 1.0 means the framework adds little on top of the calls it has to make.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "src"))

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "AKIDBENCH", "aws_secret_access_key": "bench-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto server did not start")


async def publish_all(count: int, publishers: int, publish_one: Any, consumed: Any, window: int) -> None:
    """Publish messages 0..count-1 from *publishers* tasks, keeping at most *window* unconsumed.

    moto scans a queue's whole message list on every receive and delete, so an unbounded backlog
    would make the run quadratic in moto; both sides get the same flow control.
    """
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            while n - consumed() >= window:  # noqa: ASYNC110 - polls the consumer side's counter
                await asyncio.sleep(0.005)
            await publish_one(n)

    await asyncio.gather(*(worker() for _ in range(publishers)))


# -- tomodachi ----------------------------------------------------------------------------------
async def run_tomodachi(url: str, count: int, publishers: int, window: int) -> tuple[float, float]:
    import tomodachi
    from tomodachi.container import ServiceContainer
    from tomodachi.envelope import JsonBase
    from tomodachi.runtime import Runtime

    prefix = f"b{uuid.uuid4().hex[:8]}-"
    seen: set[int] = set()
    done = asyncio.Event()

    class Bench(tomodachi.Service):
        name = "bench"
        message_envelope = JsonBase
        options = tomodachi.Options(
            **{
                "aws_sns_sqs.region_name": REGION,
                "aws_sns_sqs.aws_access_key_id": CREDENTIALS["aws_access_key_id"],
                "aws_sns_sqs.aws_secret_access_key": CREDENTIALS["aws_secret_access_key"],
                "aws_sns_sqs.topic_prefix": prefix,
                "aws_sns_sqs.queue_name_prefix": prefix,
                "aws_endpoint_urls.sns": url,
                "aws_endpoint_urls.sqs": url,
                "aws_endpoint_urls.sts": url,
            }
        )

        @tomodachi.aws_sns_sqs("bench", competing=True, max_number_of_consumed_messages=10)
        async def handler(self, data: Any) -> None:
            seen.add(data["n"])
            if len(seen) >= count:
                done.set()

    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer([Bench], runtime)
    await container.setup()
    await container.start()
    service = container.instances[0]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await publish_all(
            count,
            publishers,
            lambda n: tomodachi.aws_sns_sqs_publish(service, {"n": n, "pad": "x" * 200}, "bench"),
            lambda: len(seen),
            window,
        )
        await done.wait()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await container.stop()
        await runtime.aclose()
    return count / elapsed, cpu / count * 1e6


# -- baseline -------------------------------------------------------------------------------------
def json_base(topic: str, data: Any) -> str:
    return json.dumps(
        {
            "service": {"name": "bench", "uuid": "baseline"},
            "metadata": {
                "message_uuid": f"baseline.{uuid.uuid4()}",
                "protocol_version": "tomodachi-json-base--1.0.0",
                "compatible_protocol_versions": ["json_base-wip"],
                "timestamp": time.time(),
                "topic": topic,
                "data_encoding": "raw",
            },
            "data": data,
        }
    )


async def run_baseline(url: str, count: int, publishers: int, window: int) -> tuple[float, float]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    name = f"b{uuid.uuid4().hex[:8]}-bench"
    config = AioConfig(connect_timeout=8, read_timeout=35, max_pool_connections=50)
    session = get_session()
    kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": url, "config": config, **CREDENTIALS}
    async with session.create_client("sns", **kwargs) as sns, session.create_client("sqs", **kwargs) as sqs:
        topic_arn = (await sns.create_topic(Name=name))["TopicArn"]
        queue_url = (await sqs.create_queue(QueueName=name))["QueueUrl"]
        queue_arn = (await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "SQS:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        await sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        await sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

        seen: set[int] = set()

        async def handle(message: dict[str, Any]) -> None:
            notification = json.loads(message["Body"])
            payload = json.loads(notification["Message"])
            seen.add(payload["data"]["n"])
            await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

        async def consume() -> None:
            while len(seen) < count:
                response = await sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=20,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                    MessageAttributeNames=["All"],
                )
                await asyncio.gather(*(handle(m) for m in response.get("Messages") or []))

        async def publish_one(n: int) -> None:
            await sns.publish(TopicArn=topic_arn, Message=json_base("bench", {"n": n, "pad": "x" * 200}))

        consumer = asyncio.create_task(consume())
        started, cpu = time.perf_counter(), time.process_time()
        await publish_all(count, publishers, publish_one, lambda: len(seen), window)
        await consumer
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6


async def main_async(args: argparse.Namespace, url: str) -> None:
    ours: list[float] = []
    base: list[float] = []
    cpu: dict[str, list[float]] = {"tomodachi": [], "baseline": []}
    for round_ in range(args.rounds):
        order = [("tomodachi", run_tomodachi, ours), ("baseline", run_baseline, base)]
        if round_ % 2:
            order.reverse()
        for label, runner, results in order:
            rate, cpu_us = await runner(url, args.messages, args.publishers, args.window)
            results.append(rate)
            cpu[label].append(cpu_us)
            line = f"  round {round_ + 1}  {label:<9} {rate:8.1f} msgs/s  client CPU {cpu_us:6.1f} us/msg"
            print(line, flush=True)
    t, b = statistics.median(ours), statistics.median(base)
    print(f"tomodachi  (aws_sns_sqs_publish + @aws_sns_sqs, batch 10)     median {t:8.1f} msgs/s")
    print(f"baseline   (plain aiobotocore publish/receive/delete, batch 10) median {b:8.1f} msgs/s")
    print(f"ratio tomodachi/baseline {t / b:5.2f}x")
    tc, bc = statistics.median(cpu["tomodachi"]), statistics.median(cpu["baseline"])
    print(
        f"client CPU per message (publish + receive + handle + delete, median): tomodachi {tc:.1f} us, "
        f"baseline {bc:.1f} us, difference {tc - bc:+.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--publishers", type=int, default=10, help="concurrent publish tasks (default 10)")
    parser.add_argument("--window", type=int, default=50, help="most unconsumed messages (default 50)")
    args = parser.parse_args()
    import logging

    import tomodachi.logging as tlog

    # The start-up warning that the handler has no dead-letter queue (it has none by design here)
    # came every round: noise in this output.
    tlog.configure("console", "error")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    moto, url = start_moto()
    print(
        f"# bench/sns_sqs  python {sys.version.split()[0]}  moto at {url}  {args.messages} messages, "
        f"{args.publishers} publishers, window {args.window}, {args.rounds} rounds"
    )
    try:
        asyncio.run(main_async(args, url))
    finally:
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
