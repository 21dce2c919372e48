"""A service that waits in ``_started_service`` for its own AMQP message (the original starts
AMQP consumers before ``_started_service``)."""

import asyncio
import json
import os
from typing import Any

import tomodachi

PREFIX = os.environ.get("COMPAT_AMQP_PREFIX", "")


class WaitsForItsOwnMessage(tomodachi.Service):
    name = "compat_startup_amqp"
    message_envelope = tomodachi.envelope.JsonBase
    options = {"amqp": {"routing_key_prefix": PREFIX, "queue_name_prefix": PREFIX, "queue_ttl": 60}}

    @tomodachi.amqp("compat.startup")
    async def handler(self, data: Any) -> None:
        self.order.append("handler")
        self.received.set()

    async def _start_service(self) -> None:
        self.order = ["_start_service"]
        self.received = asyncio.Event()

    async def _started_service(self) -> None:
        await tomodachi.amqp_publish(self, "ping", "compat.startup")
        try:
            await asyncio.wait_for(self.received.wait(), 4.0)
        except asyncio.TimeoutError:
            self.order.append("timed out")
        self.order.append("_started_service returns")
        print("COMPAT " + json.dumps({"event": "order", "order": self.order}), flush=True)
        tomodachi.exit()
