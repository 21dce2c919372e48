"""AWSSNSRegistration (deprecated ``discovery``): the service receives its own registration."""

import asyncio
import json
import os
from typing import Any

import tomodachi
from tomodachi.discovery import AWSSNSRegistration
from tomodachi.envelope import JsonBase


class RegisteredService(tomodachi.Service):
    name = "compat_registered"
    message_envelope = JsonBase
    discovery = [AWSSNSRegistration]
    options = tomodachi.Options(
        http=tomodachi.Options.HTTP(port=0),
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
    registration: Any = None

    @tomodachi.http("GET", r"/health/?")
    async def health(self) -> str:
        return "ok"

    @tomodachi.aws_sns_sqs("services-registration-register")
    async def on_register(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("uuid") == self.uuid and self.registration is None:
            self.registration = data
            self.got_it.set()

    async def _start_service(self) -> None:
        self.got_it = asyncio.Event()

    async def _started_service(self) -> None:
        async def wait_and_report() -> None:
            try:
                await asyncio.wait_for(self.got_it.wait(), 6.0)
            except asyncio.TimeoutError:
                pass
            print("COMPAT " + json.dumps({"event": "registration", "data": self.registration}), flush=True)
            tomodachi.exit()

        asyncio.ensure_future(wait_and_report())
