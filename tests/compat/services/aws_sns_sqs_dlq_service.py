"""A dead-letter queue as in the original's DLQ test: AWSSNSSQSInternalServiceError until the
redrive policy moves the message to the dead-letter queue, whose handler then gets it."""

import asyncio
import json
import os
import uuid
from typing import Any, List

import tomodachi
from tomodachi import aws_sns_sqs, aws_sns_sqs_publish
from tomodachi.envelope import JsonBase
from tomodachi.transport.aws_sns_sqs import AWSSNSSQSInternalServiceError

DLQ = "compat-dlq-{}".format(uuid.uuid4().hex[:12])


class DLQService(tomodachi.Service):
    name = "compat_dlq"
    message_envelope = JsonBase
    options = tomodachi.Options(
        aws_sns_sqs=tomodachi.Options.AWSSNSSQS(
            region_name=os.environ.get("TOMODACHI_TEST_AWS_REGION"),
            aws_access_key_id=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("TOMODACHI_TEST_AWS_ACCESS_SECRET"),
            queue_name_prefix=os.environ.get("TOMODACHI_TEST_SQS_QUEUE_PREFIX") or "",
            topic_prefix=os.environ.get("TOMODACHI_TEST_SNS_TOPIC_PREFIX") or "",
        ),
        aws_endpoint_urls=tomodachi.Options.AWSEndpointURLs(
            sns=os.environ.get("TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL") or None,
            sqs=os.environ.get("TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL") or None,
        ),
    )
    data_uuid = str(uuid.uuid4())
    receive_counts: List[int] = []
    dead_lettered: Any = None

    @aws_sns_sqs("compat-dlq-topic", visibility_timeout=1, dead_letter_queue_name=DLQ, max_receive_count=2)
    async def failing(self, data: Any, approximate_receive_count: int) -> None:
        if data == self.data_uuid:
            self.receive_counts.append(approximate_receive_count)
            raise AWSSNSSQSInternalServiceError("not now")

    @aws_sns_sqs(queue_name=DLQ)
    async def dead_letters(self, data: Any, approximate_receive_count: int, topic: str) -> None:
        if data == self.data_uuid and self.dead_lettered is None:
            self.dead_lettered = {"receive_count": approximate_receive_count, "topic": topic}
            self.got_it.set()

    async def _start_service(self) -> None:
        self.got_it = asyncio.Event()

    async def _started_service(self) -> None:
        async def wait_and_report() -> None:
            try:
                await asyncio.wait_for(self.got_it.wait(), 10.0)
            except asyncio.TimeoutError:
                pass
            values = {
                "event": "dlq",
                "receive_counts": self.receive_counts,
                "dead_lettered": self.dead_lettered,
            }
            print("COMPAT " + json.dumps(values), flush=True)
            tomodachi.exit()

        asyncio.ensure_future(wait_and_report())
        await aws_sns_sqs_publish(self, self.data_uuid, "compat-dlq-topic")
