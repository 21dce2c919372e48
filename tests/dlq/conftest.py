"""A moto server for the SQS tests of tomodachi.dlq (once per module that asks for it), and options for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._moto_support import moto_server

REGION = "eu-west-1"
ACCESS_KEY_ID = "AKIDDLQTESTING"
SECRET = "moto-dlq-secret-never-shown"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def aws_options(url: str) -> dict[str, Any]:
    return {
        "aws_sns_sqs.region_name": REGION,
        "aws_sns_sqs.aws_access_key_id": ACCESS_KEY_ID,
        "aws_sns_sqs.aws_secret_access_key": SECRET,
        "aws_endpoint_urls.sns": url,
        "aws_endpoint_urls.sqs": url,
        "aws_endpoint_urls.sts": url,
    }
