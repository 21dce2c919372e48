"""The AMQP publish path remembers the connection of a bounded number of options objects."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.runtime import Runtime
from tomodachi.transport.amqp import rabbitmq


class _Publisher:
    def __init__(self, port: int) -> None:
        self.options = tomodachi.Options(amqp={"host": "127.0.0.1", "port": port})


async def test_publisher_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rabbitmq, "PUBLISHER_CACHE_SIZE", 4)
    runtime = Runtime()
    publishers = [_Publisher(5000 + n % 2) for n in range(20)]
    try:
        for publisher in publishers + publishers[:3]:
            pending: Any = rabbitmq.publish(publisher, runtime, "", "key", b"{}", message_id="m")
            pending.close()  # not sent: only the lookup is under test
        cache = runtime.resource("tomodachi.amqp.publishers", rabbitmq._publisher_cache)
        assert len(cache) == 4
        # The connection is still one per set of connection options, however often it is looked up.
        connections = {id(connection) for _options, connection, _timeout in cache.values()}
        assert len(connections) == 2
    finally:
        await runtime.aclose()
