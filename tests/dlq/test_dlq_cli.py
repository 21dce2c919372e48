"""``tomodachi dlq`` as a real process: usage errors (exit 2), service and broker errors (exit 1, one
line), and list / show / redrive on service files against RabbitMQ and SQS (moto)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aio_pika
import pytest

from tests._support import TIMEOUT, cli_env
from tests.dlq.conftest import SECRET, aws_options
from tests.dlq.test_dlq_sqs import Sqs, _sqs

Run = Callable[..., subprocess.CompletedProcess[str]]
Write = Callable[[str, str], Path]
HINT = "use the '--help' option for cli usage help."


@pytest.fixture
def dlq(tmp_path: Path) -> Run:
    """Run ``python -m tomodachi dlq *args`` in *tmp_path* (stdin is not a terminal)."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tomodachi", "dlq", *args],
            cwd=tmp_path,
            env=cli_env(**(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=TIMEOUT,
        )

    return run


def usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ")
    assert any(line.startswith("error: ") and message in line for line in result.stderr.splitlines())
    assert HINT in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def routes_reported() -> bool:
    """The transports report their dead-letter routes and have the per-handler queue options."""
    from tomodachi.options import Options
    from tomodachi.transport.amqp.transport import AmqpTransport
    from tomodachi.transport.aws_sns_sqs.transport import AWSSNSSQSTransport

    try:
        Options({"amqp.dead_letter_queues": True})
    except Exception:
        return False
    return all(hasattr(t, "dead_letter_routes") for t in (AmqpTransport, AWSSNSSQSTransport))


needs_routes = pytest.mark.skipif(
    not routes_reported(), reason="the transports report no dead-letter routes yet"
)


def test_help(dlq: Run, tmp_path: Path) -> None:
    for args in ((), ("--help",), ("show", "-h")):
        result = dlq(*args)
        assert result.returncode == 0, result.stderr
        assert "tomodachi dlq redrive [options] <service.py> <handler>" in result.stdout
    main = subprocess.run(
        [sys.executable, "-m", "tomodachi", "--help"],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tomodachi dlq list|show|redrive" in main.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge", "a.py"], "unknown dlq command 'purge'"),
        (["list"], "no service file has been provided as argument."),
        (["show", "a.py"], "'tomodachi dlq show' takes one service file and one handler name."),
        (["redrive", "a.py", "h", "extra"], "'tomodachi dlq redrive' takes one service file and one handler"),
        (["show", "a.py", "h", "--limit", "0"], "Invalid value for --limit option: '0'"),
        (["show", "a.py", "h", "--limit=x"], "Invalid value for --limit option: 'x'"),
        (["show", "a.py", "h", "--limit"], "Missing value for --limit option"),
        (["show", "a.py", "h", "--yes"], "option --yes is not an option of 'tomodachi dlq show'."),
        (["list", "a.py", "--limit", "3"], "option --limit is not an option of 'tomodachi dlq list'."),
        (["redrive", "a.py", "h", "--json"], "option --json is not an option of 'tomodachi dlq redrive'."),
        (["list", "a.py", "--bogus"], "option --bogus not recognized."),
        (["list", "a.py", "-c"], "Missing value for -c option"),
        (["list", "a.py", "-c", "missing.json"], "Invalid config file: 'missing.json' does not exist"),
        (
            ["list", "a.py", "--message-broker", "memory"],
            "tomodachi dlq cannot reach the in-memory broker (set by the --message-broker",
        ),
        (["list", "a.py", "--message-broker=kafka"], "Invalid value for --message-broker option: 'kafka'"),
    ],
)
def test_usage_errors(dlq: Run, args: list[str], message: str) -> None:
    usage_error(dlq(*args), message)


def test_memory_broker_from_the_environment_is_refused(dlq: Run) -> None:
    result = dlq("list", "a.py", env={"TOMODACHI_MESSAGE_BROKER": "memory"})
    usage_error(
        result,
        "tomodachi dlq cannot reach the in-memory broker (set by the TOMODACHI_MESSAGE_BROKER environment",
    )


def test_service_file_errors(dlq: Run, write: Write) -> None:
    failure(dlq("list", "missing.py"), "no such service file: missing.py")
    write("broken.py", "import tomodachi\nraise RuntimeError('at import')\n")
    failure(dlq("list", "broken.py"), "broken.py: error while importing: RuntimeError: at import")
    write("plain.py", "x = 1\n")
    failure(dlq("show", "plain.py", "h"), "no transport handlers defined")


SERVICE = """
import tomodachi

class Orders(tomodachi.Service):
    name = "orders"
    options = tomodachi.Options({{"amqp.dead_letter_queues": True}})

    @tomodachi.amqp("h4.order", queue_name="{queue}")
    async def on_order(self, data):
        pass

    @tomodachi.amqp("h4.refund", queue_name="{queue}-refund")
    async def on_refund(self, data):
        pass
"""


@pytest.fixture
async def amqp_service(write: Write) -> AsyncIterator[tuple[str, aio_pika.abc.AbstractChannel]]:
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel()
    queue = f"h4-cli-{uuid.uuid4().hex[:8]}"
    write("orders.py", SERVICE.format(queue=queue))
    names = [queue, f"{queue}.dlq", f"{queue}-refund", f"{queue}-refund.dlq"]
    for name in names:
        await channel.declare_queue(name, durable=True)
    for index in range(3):
        message = aio_pika.Message(
            f'{{"n": {index}}}'.encode(),
            message_id=f"m{index}",
            headers={"x-tomodachi-dead-letter-reason": "rejected", "x-tomodachi-attempts": 1},
        )
        await channel.default_exchange.publish(message, routing_key=f"{queue}.dlq")
    try:
        yield queue, channel
    finally:
        for name in names:
            await channel.queue_delete(name)
        await connection.close()


async def _count(channel: aio_pika.abc.AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


@pytest.mark.rabbitmq
@needs_routes
async def test_list_show_redrive_on_rabbitmq(
    dlq: Run, amqp_service: tuple[str, aio_pika.abc.AbstractChannel]
) -> None:
    queue, channel = amqp_service
    listed = dlq("list", "orders.py")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["HANDLER", "BROKER", "DEAD-LETTER", "QUEUE", "MESSAGES", "NOTE"]
    assert lines[1].split() == ["orders.on_order", "rabbitmq", f"{queue}.dlq", "3"]
    assert lines[2].split() == ["orders.on_refund", "rabbitmq", f"{queue}-refund.dlq", "0"]

    as_json = json.loads(dlq("list", "orders.py", "--json").stdout)
    assert [(r["handler"], r["queue"], r["messages"]) for r in as_json] == [
        ("on_order", queue, 3),
        ("on_refund", f"{queue}-refund", 0),
    ]

    shown = dlq("show", "orders.py", "on_order", "--limit", "2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"orders.on_order: 3 message(s) in '{queue}.dlq' [rabbitmq]; showing 2\n")
    assert "#1  message id: m0   size: 8 B" in shown.stdout
    assert "reason: rejected (after 1 attempt(s))" in shown.stdout
    assert 'body: {"n": 0}' in shown.stdout
    assert "#3" not in shown.stdout
    shown_json = json.loads(dlq("show", "orders.py", "orders.on_order", "--json").stdout)
    assert [m["message_id"] for m in shown_json["shown"]] == ["m0", "m1", "m2"]
    assert shown_json["shown"][0]["body"] == '{"n": 0}'
    assert await _count(channel, f"{queue}.dlq") == 3

    usage_error(dlq("redrive", "orders.py", "on_order"), "add --yes to confirm")
    moved = dlq("redrive", "orders.py", "on_order", "--limit", "1", "--yes")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout == f"moved 1 message(s) from '{queue}.dlq' to '{queue}' (orders.on_order)\n"
    assert dlq("redrive", "orders.py", "on_order", "-y").stdout.startswith("moved 2 message(s)")
    assert (await _count(channel, f"{queue}.dlq"), await _count(channel, queue)) == (0, 3)

    usage_error(dlq("show", "orders.py", "on_nothing"), "no handler 'on_nothing' with a dead-letter route")


@pytest.mark.rabbitmq
@needs_routes
def test_unreachable_rabbitmq_is_one_line(dlq: Run, write: Write) -> None:
    write("orders.py", SERVICE.format(queue="h4-unreachable"))
    config = {"options": {"amqp.port": 1, "amqp.password": "pw-never-shown"}}
    write("broker.json", json.dumps(config))
    result = dlq("list", "orders.py", "-c", "broker.json")
    failure(result, "Unable to connect [amqp] to 127.0.0.1:1")
    assert "pw-never-shown" not in result.stderr


@needs_routes
def test_handlers_on_the_in_memory_broker(dlq: Run, write: Write) -> None:
    write("orders.py", SERVICE.format(queue="h4-memory"))
    write("memory.json", json.dumps({"options": {"amqp.broker": "memory"}}))
    listed = dlq("list", "orders.py", "-c", "memory.json")
    assert listed.returncode == 0, listed.stderr
    assert "orders.on_order   rabbitmq" not in listed.stdout
    assert listed.stdout.splitlines()[1].split() == [
        "orders.on_order",
        "memory",
        "h4-memory.dlq",
        "-",
        "in-memory",
        "broker",
    ]
    failure(dlq("show", "orders.py", "on_order", "-c", "memory.json"), "runs on the in-memory broker")


SQS_SERVICE = """
import tomodachi

class Payments(tomodachi.Service):
    name = "payments"

    @tomodachi.aws_sns_sqs(queue_name="{queue}", dead_letter_queue_name="{dead}", max_receive_count=3)
    async def on_payment(self, data):
        pass
"""


@pytest.fixture
async def sqs(moto_url: str) -> AsyncIterator[Sqs]:
    async for value in _sqs(moto_url, fifo=False):
        yield value


@pytest.mark.aws
@needs_routes
async def test_list_show_redrive_on_sqs(dlq: Run, write: Write, moto_url: str, sqs: Sqs) -> None:
    write("payments.py", SQS_SERVICE.format(queue=sqs.queue, dead=sqs.dead_letters))
    write("aws.json", json.dumps({"options": aws_options(moto_url)}))
    await sqs.dead_letter("first", "second")

    listed = dlq("list", "payments.py", "-c", "aws.json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split() == ["payments.on_payment", "aws", sqs.dead_letters, "2"]
    assert SECRET not in listed.stdout + listed.stderr

    shown = json.loads(dlq("show", "payments.py", "on_payment", "-c", "aws.json", "--json").stdout)
    assert sorted(m["body"] for m in shown["shown"]) == ["first", "second"]
    assert all(m["headers"]["origin"] == "test" for m in shown["shown"])

    moved = dlq("redrive", "payments.py", "on_payment", "-c", "aws.json", "--yes")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith("moved 2 message(s)")
    assert sorted(m["Body"] for m in await sqs.drain(sqs.queue)) == ["first", "second"]
    assert await sqs.count(sqs.dead_letters) == 0


def _on_a_terminal(cwd: Path, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``tomodachi dlq *args`` with a pseudo-terminal as stdin, to which *answer* was typed."""
    import os
    import pty

    main_fd, terminal = pty.openpty()
    try:
        os.write(main_fd, answer.encode())
        return subprocess.run(
            [sys.executable, "-m", "tomodachi", "dlq", *args],
            cwd=cwd,
            env=cli_env(),
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(terminal)
        os.close(main_fd)


@pytest.mark.rabbitmq
@needs_routes
async def test_redrive_asks_on_a_terminal(
    tmp_path: Path, amqp_service: tuple[str, aio_pika.abc.AbstractChannel]
) -> None:
    queue, channel = amqp_service
    declined = _on_a_terminal(tmp_path, "n\n", "redrive", "orders.py", "on_order", "--limit", "2")
    assert declined.returncode == 0, declined.stderr
    prompt = f"move 2 message(s) from '{queue}.dlq' to '{queue}' (orders.on_order)? [y/N] "
    assert declined.stdout == prompt + "nothing moved\n"
    assert await _count(channel, f"{queue}.dlq") == 3
    accepted = _on_a_terminal(tmp_path, "y\n", "redrive", "orders.py", "on_order")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.endswith(f"moved 3 message(s) from '{queue}.dlq' to '{queue}' (orders.on_order)\n")
    assert (await _count(channel, f"{queue}.dlq"), await _count(channel, queue)) == (0, 3)


PER_INSTANCE = """
import tomodachi

class Audit(tomodachi.Service):
    name = "audit"
    {uuid}
    options = tomodachi.Options({{"amqp.dead_letter_queues": True}})

    @tomodachi.amqp("h4.audit.{tag}")
    async def on_audit(self, data):
        pass
"""


@pytest.mark.rabbitmq
@needs_routes
def test_a_per_process_queue_name_is_explained(dlq: Run, write: Write) -> None:
    tag = uuid.uuid4().hex[:8]
    write("audit.py", PER_INSTANCE.format(uuid="", tag=tag))
    listed = dlq("list", "audit.py")
    assert listed.returncode == 0, listed.stderr
    assert (
        "not found (the service has no fixed uuid: a non-competing handler's queue is named" in listed.stdout
    )
    failure(
        dlq("show", "audit.py", "on_audit"),
        "does not exist (no message was dead-lettered yet?) (the service has no",
    )
    write("fixed.py", PER_INSTANCE.format(uuid=f'uuid = "{tag}"', tag=tag))
    listed = dlq("list", "fixed.py")
    assert listed.returncode == 0, listed.stderr
    assert "not found" in listed.stdout and "uuid" not in listed.stdout
