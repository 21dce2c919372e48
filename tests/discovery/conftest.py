"""Fixtures of the discovery tests: a moto server, and an SQS queue subscribed to an SNS topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests._moto_support import moto_server

REGION = "eu-west-1"
ACCESS_KEY_ID = "AKIDDISCOVERY"
SECRET_ACCESS_KEY = "discovery-secret"


def moto_options(url: str, prefix: str) -> dict[str, Any]:
    """Dotted service options pointing the SNS+SQS transport at moto, with this test's *prefix*."""
    return {
        "aws_sns_sqs.region_name": REGION,
        "aws_sns_sqs.aws_access_key_id": ACCESS_KEY_ID,
        "aws_sns_sqs.aws_secret_access_key": SECRET_ACCESS_KEY,
        "aws_sns_sqs.topic_prefix": prefix,
        "aws_sns_sqs.queue_name_prefix": prefix,
        "aws_endpoint_urls.sns": url,
        "aws_endpoint_urls.sqs": url,
        "aws_endpoint_urls.sts": url,
    }


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def prefix() -> str:
    """A topic and queue name prefix of this test only (moto is shared by the session)."""
    return f"d{uuid.uuid4().hex[:8]}-"


Subscribe = Callable[[str], Awaitable[Callable[[], Awaitable[list[dict[str, Any]]]]]]


@pytest.fixture
def aws_options(moto_url: str, prefix: str) -> dict[str, Any]:
    """This test's service options for moto (dotted keys)."""
    return moto_options(moto_url, prefix)


@pytest.fixture
async def sns_probe(moto_url: str, prefix: str) -> AsyncIterator[Subscribe]:
    """``read = await sns_probe(topic)``: an SQS queue subscribed to SNS *topic* (both created
    on moto); ``await read()`` returns the SNS notifications received so far, parsed."""
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    session = get_session()
    kwargs = {
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
        "endpoint_url": moto_url,
    }
    async with (
        session.create_client("sns", **kwargs) as sns,
        session.create_client("sqs", **kwargs) as sqs,
    ):

        async def subscribe(topic: str) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
            topic_arn = (await sns.create_topic(Name=topic))["TopicArn"]
            queue_url = (await sqs.create_queue(QueueName=f"{prefix}probe-{uuid.uuid4().hex[:6]}"))[
                "QueueUrl"
            ]
            attributes = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            await sns.subscribe(
                TopicArn=topic_arn, Protocol="sqs", Endpoint=attributes["Attributes"]["QueueArn"]
            )

            async def read() -> list[dict[str, Any]]:
                notifications: list[dict[str, Any]] = []
                while True:
                    response = await sqs.receive_message(
                        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                    )
                    batch = response.get("Messages") or []
                    if not batch:
                        return notifications
                    for message in batch:
                        notifications.append(json.loads(message["Body"]))
                        await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

            return read

        yield subscribe
