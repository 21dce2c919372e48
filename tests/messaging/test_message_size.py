"""max_message_size on the in-memory broker: bombs and oversize payloads are settled as undecodable.

Every message transport (SNS+SQS, AMQP) refuses a payload over the limit, and data that would
inflate past it, dead-letters it where a destination is configured (else drops it), logs it once
with its id and sizes, and keeps the service's HTTP side answering meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp.web
import pytest

import tomodachi
from tests.messaging._bombs import json_base_bomb
from tomodachi.envelope import JsonBase, MessageTooLargeError
from tomodachi.testing import run_services

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024


class Target(tomodachi.Service):
    name = "target"
    message_envelope = JsonBase
    options = tomodachi.Options(amqp={"dead_letter_exchange": "dlx"})
    handled: list[Any] = []

    @tomodachi.http("GET", r"/ping")
    async def ping(self, request: Any) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="pong")

    @tomodachi.aws_sns_sqs("bomb", dead_letter_queue_name="bomb-dlq", max_receive_count=3)
    async def on_bomb(self, data: Any) -> None:
        self.handled.append(data)

    @tomodachi.aws_sns_sqs("bomb.nodlq")
    async def on_bomb_without_dlq(self, data: Any) -> None:
        self.handled.append(data)

    @tomodachi.aws_sns_sqs("raw", message_envelope=None)
    async def on_raw(self, message: Any) -> None:
        self.handled.append(len(message))

    @tomodachi.amqp("amqp.bomb")
    async def on_amqp_bomb(self, data: Any) -> None:
        self.handled.append(data)


def _too_large_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in logs if r.get("message") == "undecodable message: too large"]


@pytest.mark.parametrize("compressed", [500_000, 5_000_000])
async def test_bombs_are_dead_lettered_and_logged_once_while_http_answers(compressed: int) -> None:
    Target.handled = []
    bomb, _ = json_base_bomb(compressed, message_uuid="bomb.uuid")
    # A limit large enough that the 5 MB form is inflated too (and stopped at the limit).
    async with run_services(Target, options={"http.port": 0, "max_message_size": 16 * MiB}) as app:
        client = app.client()
        slowest = 0.0
        done = asyncio.Event()

        async def pinger() -> None:
            nonlocal slowest
            while not done.is_set():
                started = time.perf_counter()
                async with client.get("/ping") as response:
                    assert await response.text() == "pong"
                slowest = max(slowest, time.perf_counter() - started)
                await asyncio.sleep(0.002)

        task = asyncio.create_task(pinger())
        await asyncio.sleep(0.02)
        sns = await app.publish("bomb", bomb, message_envelope=None)
        amqp = await app.publish_amqp("amqp.bomb", bomb, message_envelope=None)
        sns_report = await sns.outcome(timeout=20)
        amqp_report = await amqp.outcome(timeout=20)
        await asyncio.sleep(0.02)
        done.set()
        await task

    assert Target.handled == []
    for report in (sns_report, amqp_report):
        assert report.dead_lettered, report
        assert [a.reason for a in report.attempts] == ["undecodable"]  # never retried
        assert isinstance(report.attempts[0].error, MessageTooLargeError)
    records = _too_large_logs(app.logs)
    assert len(records) == 2  # once per message
    for record in records:
        assert record["level"] == "warning"
        assert record["message_id"] and record["raw_size"] == len(bomb)
        assert record["max_message_size"] == 16 * MiB
    # HTTP kept answering while the bombs were rejected (on the event loop it would be seconds).
    assert slowest < 1.0, slowest


async def test_over_the_default_limit_without_dead_letter_queue_is_dropped() -> None:
    Target.handled = []
    bomb, _ = json_base_bomb(5_000_000)  # 6.7 MB: over the default 4 MiB by its size alone
    async with run_services(Target) as app:
        report = await (await app.publish("bomb.nodlq", bomb, message_envelope=None)).outcome(timeout=20)
    assert report.result == "dropped"
    assert [a.reason for a in report.attempts] == ["undecodable"]
    (record,) = _too_large_logs(app.logs)
    assert record["raw_size"] == len(bomb) and record["max_message_size"] == 4 * MiB
    assert Target.handled == []


async def test_oversize_raw_payloads_are_refused_and_smaller_ones_handled() -> None:
    Target.handled = []
    async with run_services(Target, options={"http.port": 0, "max_message_size": 1000}) as app:
        small = await (await app.publish("raw", "x" * 1000, message_envelope=None)).outcome(timeout=5)
        big = await (await app.publish("raw", "x" * 1001, message_envelope=None)).outcome(timeout=5)
    assert small.handled and Target.handled == [1000]
    assert not big.handled and [a.reason for a in big.attempts] == ["undecodable"]
    (record,) = _too_large_logs(app.logs)
    assert record["raw_size"] == 1001 and record["max_message_size"] == 1000


@pytest.mark.parametrize(
    "payload",
    [
        '{"service": {}, "metadata": {"message_uuid": "u", "timestamp": 1, "data_encoding": '
        '"base64_gzip_json"}, "data": "%%%% not base64"}',
        "[" * 100_000,
        "\x00\xff garbage",
    ],
)
async def test_garbage_is_undecodable(payload: str) -> None:
    Target.handled = []
    async with run_services(Target) as app:
        report = await (await app.publish("bomb", payload, message_envelope=None)).outcome(timeout=5)
    assert report.dead_lettered and [a.reason for a in report.attempts] == ["undecodable"]
    assert Target.handled == []
    assert [r["message"] for r in app.logs if "undecodable" in r.get("message", "")] == [
        "undecodable message"
    ]
