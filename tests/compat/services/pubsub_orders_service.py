"""One of two service files run together (``tomodachi run a.py b.py``): publishes an order."""

import asyncio
import os
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase

OPTIONS = {
    "http": {"port": 0},
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


class Orders(tomodachi.Service):
    name = "compat_orders"
    message_envelope = JsonBase
    options = OPTIONS

    @tomodachi.http("POST", r"/orders/?")
    async def create(self, request: Any) -> Any:
        return 201, "created"

    async def _started_service(self) -> None:
        async def _async_publisher() -> None:
            # the other file's services start concurrently: publish until they have subscribed
            for _ in range(20):
                await tomodachi.aws_sns_sqs_publish(self, {"order": 1}, "compat-order-created")
                await asyncio.sleep(0.3)

        asyncio.ensure_future(_async_publisher())
