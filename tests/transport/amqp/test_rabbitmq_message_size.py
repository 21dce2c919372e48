"""max_message_size on RabbitMQ: bombs, oversize and garbage bodies go to the dead-letter exchange."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import aio_pika
import pytest

import tomodachi
from tests._support import wait_until
from tests.messaging._bombs import json_base_bomb
from tomodachi.envelope import JsonBase

from ._amqp_support import Harness, amqp_options, get_messages

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(60)]

MiB = 1024 * 1024


async def test_bombs_and_garbage_are_dead_lettered_and_logged(
    harness: Harness, prefix: str, raw: Any, json_logs: Any
) -> None:
    dlx = f"{prefix}dlx"
    handled: list[Any] = []

    class Target(tomodachi.Service):
        name = "bomb-target"
        message_envelope = JsonBase
        options = amqp_options(prefix, dead_letter_exchange=dlx)
        options.max_message_size = 16 * MiB

        @tomodachi.amqp("bomb.#")
        async def handler(self, data: Any) -> None:
            handled.append(data)

    container = await harness.start(Target)
    exchange = await raw.declare_exchange(dlx, aio_pika.ExchangeType.TOPIC, durable=True)
    dlq = await raw.declare_queue(f"{prefix}dlq", durable=True, arguments={"x-expires": 600_000})
    await dlq.bind(exchange, "#")

    small_bomb, _ = json_base_bomb(500_000)
    big_bomb, _ = json_base_bomb(5_000_000)
    garbage = (
        '{"service": {}, "metadata": {"message_uuid": "u", "timestamp": 1, "data_encoding": '
        f'"base64_gzip_json"}}, "data": "{base64.b64encode(zlib.compress(b"{nope")[:-3]).decode()}"}}'
    )
    oversize = "x" * (16 * MiB + 1)
    bodies = {
        "small": small_bomb,
        "big": big_bomb,
        "garbage": garbage,
        "nested": "[" * 100_000,
        "oversize": oversize,
    }
    amq_topic = await raw.get_exchange("amq.topic")
    for key, body in bodies.items():
        await amq_topic.publish(aio_pika.Message(body.encode(), message_id=key), f"{prefix}bomb.{key}")

    dead = await get_messages(dlq, len(bodies), within=30)
    assert sorted(m.message_id or "" for m in dead) == sorted(bodies)
    assert handled == []
    await wait_until(
        lambda: len([r for r in json_logs() if r.get("message") == "undecodable message: too large"]) == 3,
        what="too-large logs",
    )
    too_large = {
        r["message_id"]: r for r in json_logs() if r.get("message") == "undecodable message: too large"
    }
    assert set(too_large) == {"small", "big", "oversize"}
    assert too_large["oversize"]["raw_size"] == 16 * MiB + 1
    assert all(r["max_message_size"] == 16 * MiB for r in too_large.values())
    await harness.stop(container)
