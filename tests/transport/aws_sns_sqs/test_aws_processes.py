"""Real ``tomodachi run`` processes on moto: competing consumers, SIGTERM mid-stream, start-up errors."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import cli_env

pytestmark = pytest.mark.aws

SERVICE = """
import asyncio
import os

import tomodachi

URL = os.environ["TEST_MOTO_URL"]
PREFIX = os.environ["TEST_PREFIX"]
OUT = os.environ["TEST_OUT"]
DELAY = float(os.environ.get("TEST_DELAY", "0.02"))


class Worker(tomodachi.Service):
    name = "worker"
    options = tomodachi.Options(**{
        "aws_sns_sqs.region_name": "eu-west-1",
        "aws_sns_sqs.aws_access_key_id": "AKIDTESTING",
        "aws_sns_sqs.aws_secret_access_key": "moto-secret-never-logged",
        "aws_sns_sqs.topic_prefix": PREFIX,
        "aws_sns_sqs.queue_name_prefix": PREFIX,
        "aws_endpoint_urls.sns": URL,
        "aws_endpoint_urls.sqs": URL,
        "aws_endpoint_urls.sts": URL,
        "http.termination_grace_period_seconds": 5,
    })

    # visibility_timeout: a stopped process's cancelled long poll may still take messages on
    # the server side; they come back after this many seconds.
    @tomodachi.aws_sns_sqs(
        "jobs", competing=True, message_envelope=None, visibility_timeout=2, max_number_of_consumed_messages=2
    )
    async def handler(self, message: str) -> None:
        await asyncio.sleep(DELAY)
        with open(OUT, "a", encoding="utf-8") as out:
            out.write(message + "\\n")
"""


@pytest.fixture
def service_file(write: Callable[[str, str], Path]) -> Path:
    return write("worker.py", SERVICE)


@pytest.fixture
def start(
    spawn: Callable[..., Any], tmp_path: Path, moto_url: str, prefix: str, service_file: Path
) -> Callable[..., Any]:
    """``start(out, **env)``: ``tomodachi run`` the worker on moto (``spawn`` kills it at teardown)."""

    def run(out: str, **env: str) -> Any:
        environment = {
            "TEST_MOTO_URL": moto_url,
            "TEST_PREFIX": prefix,
            "TEST_OUT": str(tmp_path / out),
            **env,
        }
        return spawn("run", str(service_file), env=environment)

    return run


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def wait_for(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(0.05)


async def publish(boto: Any, topic: str, messages: list[str]) -> None:
    arn = await boto.topic_arn(topic)
    for message in messages:
        await boto.sns.publish(TopicArn=arn, Message=message)


async def test_competing_consumers_in_two_processes(
    start: Any, boto: Any, prefix: str, tmp_path: Path
) -> None:
    first, second = start("first.txt"), start("second.txt")
    for process in (first, second):
        process.wait_for_stderr("started service successfully")
    sent = [f"m{n}" for n in range(60)]
    await publish(boto, prefix + "jobs", sent)

    def both() -> list[str]:
        return lines(tmp_path / "first.txt") + lines(tmp_path / "second.txt")

    wait_for(lambda: set(both()) >= set(sent), 30, "every message")
    assert lines(tmp_path / "first.txt") and lines(tmp_path / "second.txt")  # both competed
    for process in (first, second):
        process.send(signal.SIGTERM)
    assert [first.wait(), second.wait()] == [0, 0]


async def test_sigterm_mid_stream_loses_no_message(
    start: Any, boto: Any, prefix: str, tmp_path: Path
) -> None:
    first = start("first.txt", TEST_DELAY="0.15")
    first.wait_for_stderr("started service successfully")
    sent = [f"m{n}" for n in range(40)]
    await publish(boto, prefix + "jobs", sent)
    wait_for(lambda: len(lines(tmp_path / "first.txt")) >= 5, 20, "the first messages")
    first.send(signal.SIGTERM)
    assert first.wait() == 0
    handled_first = lines(tmp_path / "first.txt")
    assert len(set(handled_first)) < len(sent)  # stopped mid-stream

    second = start("second.txt")
    second.wait_for_stderr("started service successfully")
    wait_for(
        lambda: set(handled_first + lines(tmp_path / "second.txt")) >= set(sent),
        30,
        "the rest of the messages",
    )
    second.send(signal.SIGTERM)
    assert second.wait() == 0


def test_wrong_endpoint_exits_1_with_one_line(tmp_path: Path, prefix: str, service_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", str(service_file)],
        cwd=tmp_path,
        env=cli_env(TEST_MOTO_URL=f"http://127.0.0.1:{port}", TEST_PREFIX=prefix, TEST_OUT="x"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "cannot reach" in line]
    assert len(failures) == 1, result.stderr
    assert f"http://127.0.0.1:{port}" in failures[0]
    assert "moto-secret-never-logged" not in result.stderr + result.stdout
