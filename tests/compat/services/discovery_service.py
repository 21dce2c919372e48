"""The deprecated ``discovery`` attribute with the original's DummyRegistry, and message_protocol."""

import json

import tomodachi
from tomodachi.discovery.dummy_registry import DummyRegistry
from tomodachi.protocol import JsonBase


@tomodachi.service
class DummyService(object):
    name = "compat_dummy"
    discovery = [DummyRegistry]
    message_protocol = JsonBase
    options = {
        "aws_sns_sqs": {
            "region_name": "eu-west-1",
            "aws_access_key_id": "XXXXXXXXX",
            "aws_secret_access_key": "XXXXXXXXX",
        },
        "amqp": {"port": 54321, "login": "invalid", "password": "invalid"},
    }

    start = False
    started = False
    stop = False

    async def _start_service(self) -> None:
        self.start = True

    async def _started_service(self) -> None:
        self.started = True
        tomodachi.exit()

    async def _stop_service(self) -> None:
        self.stop = True
        print(
            "COMPAT " + json.dumps({"event": "flags", "flags": [self.start, self.started, self.stop]}),
            flush=True,
        )
