"""The RabbitMQ backend through real ``tomodachi run`` processes: sharing work, signals, outages."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import pytest

import tomodachi
from tests._support import cli_env, wait_until
from tomodachi.transport.amqp import AmqpPublishError
from tomodachi.transport.amqp import connection as connection_module

from ._amqp_support import URL, Harness, amqp_options, rabbitmqctl, stdout_values, wait_for_broker

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(90)]

WORKER = """
import asyncio
import os

import tomodachi


class Worker(tomodachi.Service):
    name = "worker"
    options = tomodachi.Options(**{
        "amqp.routing_key_prefix": __PREFIX__,
        "amqp.queue_name_prefix": __PREFIX__,
        "amqp.queue_ttl": 600,
        "amqp.qos.queue_prefetch_count": __PREFETCH__,
        "amqp.password": os.environ.get("AMQP_PASSWORD", "guest"),
        "amqp.port": int(os.environ.get("AMQP_PORT", "5672")),
        "http.termination_grace_period_seconds": __GRACE__,
    })

    @tomodachi.amqp("jobs.#", competing=__COMPETING__, queue_name=__QUEUE__)
    async def handle(self, message: str) -> None:
        print("START", message, flush=True)
        await asyncio.sleep(float(os.environ.get("DELAY", "0")))
        print("DONE", message, flush=True)
"""


def worker_file(
    write: Callable[[str, str], Path],
    prefix: str,
    *,
    competing: bool = True,
    queue: str | None = "jobs",
    prefetch: int = 100,
    grace: float = 5,
) -> Path:
    text = (
        WORKER.replace("__PREFIX__", repr(prefix))
        .replace("__PREFETCH__", str(prefetch))
        .replace("__GRACE__", str(grace))
        .replace("__COMPETING__", str(competing))
        .replace("__QUEUE__", repr(queue))
    )
    return write("worker.py", text)


async def publish_raw(prefix: str, bodies: list[str], key: str = "jobs.new") -> None:
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("amq.topic")
        for body in bodies:
            await exchange.publish(aio_pika.Message(body.encode()), f"{prefix}{key}")


async def started(*processes: Any) -> None:
    for process in processes:
        await asyncio.to_thread(process.wait_for_stderr, "started service successfully")


async def terminate(*processes: Any) -> None:
    for process in processes:
        process.send(signal.SIGTERM)
    for process in processes:
        assert await asyncio.to_thread(process.wait) == 0, process.stderr


async def test_competing_consumers_in_two_processes_share_the_work(
    spawn: Callable[..., Any], write: Callable[[str, str], Path], prefix: str
) -> None:
    worker_file(write, prefix, prefetch=2)
    env = {"DELAY": "0.02"}
    a, b = spawn("run", "worker.py", env=env), spawn("run", "worker.py", env=env)
    await started(a, b)
    bodies = [f"m{n}" for n in range(40)]
    await publish_raw(prefix, bodies)

    def handled() -> list[str]:
        return stdout_values(a, "DONE") + stdout_values(b, "DONE")

    await wait_until(lambda: len(handled()) >= len(bodies), within=20, what="all messages handled")
    await asyncio.sleep(0.2)  # no duplicates arrive late
    counts = Counter(handled())
    assert set(counts) == set(bodies) and set(counts.values()) == {1}  # each exactly once overall
    assert stdout_values(a, "DONE") and stdout_values(b, "DONE")  # both got some
    await terminate(a, b)


async def test_non_competing_pair_each_gets_every_message(
    spawn: Callable[..., Any], write: Callable[[str, str], Path], prefix: str
) -> None:
    worker_file(write, prefix, competing=False, queue=None)
    a, b = spawn("run", "worker.py"), spawn("run", "worker.py")
    await started(a, b)
    bodies = [f"m{n}" for n in range(10)]
    await publish_raw(prefix, bodies)
    for process in (a, b):
        await wait_until(
            lambda p=process: len(stdout_values(p, "DONE")) >= 10,  # type: ignore[misc]  # (a bound default)
            within=15,
            what="deliveries",
        )
    await asyncio.sleep(0.1)
    assert sorted(stdout_values(a, "DONE")) == sorted(bodies)
    assert sorted(stdout_values(b, "DONE")) == sorted(bodies)
    await terminate(a, b)


async def test_sigterm_during_a_stream_loses_no_message(
    spawn: Callable[..., Any], write: Callable[[str, str], Path], prefix: str
) -> None:
    worker_file(write, prefix, prefetch=4, grace=0.3)
    first = spawn("run", "worker.py", env={"DELAY": "1.0"})
    await started(first)
    bodies = [f"m{n}" for n in range(12)]
    await publish_raw(prefix, bodies)
    # Stop while the second batch of four is in flight (each takes 1 s, the grace is 0.3 s).
    await wait_until(lambda: len(stdout_values(first, "DONE")) >= 4, within=15, what="first batch")
    await wait_until(lambda: len(stdout_values(first, "START")) >= 8, within=5, what="second batch started")
    await terminate(first)
    assert "did not finish within the grace period" in first.stderr
    done_first = stdout_values(first, "DONE")
    assert 4 <= len(done_first) < len(bodies)

    second = spawn("run", "worker.py", env={"DELAY": "0.01"})
    await started(second)

    def handled() -> set[str]:
        return set(done_first) | set(stdout_values(second, "DONE"))

    await wait_until(lambda: handled() == set(bodies), within=15, what="every message handled")
    await terminate(second)


@pytest.mark.parametrize(
    ("env", "address", "reason"),
    [
        ({"AMQP_PASSWORD": "wrong-s3cret"}, "127.0.0.1:5672", "ACCESS_REFUSED"),
        ({"AMQP_PORT": "54321"}, "127.0.0.1:54321", "refused"),
    ],
)
def test_unusable_broker_exits_1_with_one_clear_line(
    write: Callable[[str, str], Path],
    prefix: str,
    tmp_path: Path,
    env: dict[str, str],
    address: str,
    reason: str,
) -> None:
    worker_file(write, prefix)
    begin = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", "worker.py"],
        cwd=tmp_path,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - begin < 15
    assert result.returncode == 1
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if f"Unable to connect [amqp] to {address}" in line]
    assert len(lines) == 1, output
    assert reason in lines[0]
    assert "Traceback" not in output and "wrong-s3cret" not in output
    assert "error when creating transport" not in output


async def test_broker_restart_mid_stream(
    spawn: Callable[..., Any],
    write: Callable[[str, str], Path],
    prefix: str,
    harness: Harness,
    json_logs: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection_module, "STILL_DOWN_INTERVAL", 1.0)  # report the long outage
    worker_file(write, prefix, queue="restart")
    consumer = spawn("run", "worker.py")
    await started(consumer)

    in_process: list[str] = []

    class Publisher(tomodachi.Service):
        name = "restart-publisher"
        options = amqp_options(prefix, publish_timeout=1.0)

        @tomodachi.amqp("jobs.#")
        async def handle(self, message: str) -> None:
            in_process.append(message)

    container = await harness.start(Publisher)
    service, transport = container.instances[0], harness.transport(container)
    bodies = [f"m{n}" for n in range(40)]
    publish_errors: list[str] = []

    async def publish_all() -> None:
        for body in bodies:
            while True:  # the publisher retries its own publishes after an AmqpPublishError
                try:
                    await tomodachi.amqp_publish(service, body, "jobs.restart")
                    break
                except AmqpPublishError as exc:
                    publish_errors.append(str(exc))
            await asyncio.sleep(0.03)

    publishing = asyncio.create_task(publish_all())
    try:
        await wait_until(lambda: len(in_process) >= 10, within=10, what="first messages")
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        await wait_until(lambda: not transport.ready, within=5, what="not ready during the outage")
        assert not service.ready and service.readiness == {"amqp": False}
        # Down for longer than the publish timeout: publishes fail, and are retried by the test.
        await wait_until(lambda: bool(publish_errors), within=5, what="a publish failed")
        await wait_until(
            lambda: any(r["message"].startswith("still reconnecting [amqp]") for r in json_logs()),
            within=5,
            what="the long outage reported",
        )
        assert not transport.ready
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
        await asyncio.to_thread(wait_for_broker)
    await asyncio.wait_for(publishing, 30)
    await wait_until(lambda: transport.ready, within=15, what="ready again")
    assert service.ready

    await wait_until(lambda: set(in_process) >= set(bodies), within=20, what="in-process consumer resumed")
    await wait_until(
        lambda: set(stdout_values(consumer, "DONE")) >= set(bodies),
        within=20,
        what="subprocess consumer resumed",
    )
    assert all(
        "\n" not in e and e.startswith("Unable to publish [amqp] to 127.0.0.1:5672") for e in publish_errors
    )
    await terminate(consumer)
    lost = [line for line in consumer.stderr_lines if "connection lost [amqp]" in line]
    recovered = [line for line in consumer.stderr_lines if "reconnected [amqp]" in line]
    assert len(lost) == 1 and len(recovered) == 1, consumer.stderr
    assert "Traceback" not in consumer.stderr
    records = json_logs()
    still = [r for r in records if r["message"].startswith("still reconnecting [amqp]")]
    assert "connect" in still[0]["last_error"].lower()  # the latest attempt's error, e.g. refused
    assert [
        r["message"] for r in records if r["logger"] == "tomodachi.amqp" and "reconnected" in r["message"]
    ] == ["reconnected [amqp] to 127.0.0.1:5672"]
    assert not [r for r in records if r["logger"].startswith(("aio_pika", "aiormq"))], records
