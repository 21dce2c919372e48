"""SQS receive loops and schedules start only after ``_started_service`` returns (reference 3.2)."""

import asyncio
import json
import os
from typing import Any

import tomodachi


class StartsConsumingAfterStarted(tomodachi.Service):
    name = "compat_startup_sns_sqs"
    message_envelope = tomodachi.envelope.JsonBase
    options = {
        "aws_sns_sqs": {
            "region_name": os.environ.get("TOMODACHI_TEST_AWS_REGION"),
            "aws_access_key_id": os.environ.get("TOMODACHI_TEST_AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": os.environ.get("TOMODACHI_TEST_AWS_ACCESS_SECRET"),
            "queue_name_prefix": os.environ.get("TOMODACHI_TEST_SQS_QUEUE_PREFIX") or "",
            "topic_prefix": os.environ.get("TOMODACHI_TEST_SNS_TOPIC_PREFIX") or "",
        },
        "aws_endpoint_urls": {
            "sns": os.environ.get("TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL") or None,
            "sqs": os.environ.get("TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL") or None,
        },
    }

    @tomodachi.aws_sns_sqs("compat-startup")
    async def handler(self, data: Any) -> None:
        self.order.append("handler")
        self.check()

    @tomodachi.schedule(interval=1, immediately=True)
    async def scheduled(self) -> None:
        self.order.append("scheduled")
        self.check()

    def check(self) -> None:
        if {"handler", "scheduled"} <= set(self.order) and not self.done.done():
            self.done.set_result(None)

    async def _start_service(self) -> None:
        self.order = ["_start_service"]
        self.done = asyncio.Future()

    async def _started_service(self) -> None:
        await tomodachi.aws_sns_sqs_publish(self, "ping", "compat-startup")
        await asyncio.sleep(1.0)
        self.order.append("_started_service returns")

        async def _report() -> None:
            try:
                await asyncio.wait_for(asyncio.shield(self.done), 5.0)
            except asyncio.TimeoutError:
                pass
            print("COMPAT " + json.dumps({"event": "order", "order": self.order}), flush=True)
            tomodachi.exit()

        asyncio.ensure_future(_report())
