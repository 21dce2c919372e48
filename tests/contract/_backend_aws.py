"""The ``aws`` SNS+SQS contract backend: the AWS transport (aiobotocore) against moto's server.

A pytest plugin (``pytest_plugins`` of ``tests/conftest.py``); its tests are marked ``aws``.
moto runs once per test session on 127.0.0.1 and a free port; each test gets its own topic and
queue prefix, so tests never see each other's topics or queues.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests._moto_support import moto_server
from tests.contract.contract_support import Backend

CONTRACT_BACKENDS = {"sns_sqs": [pytest.param("aws", marks=pytest.mark.aws)]}


@pytest.fixture(scope="session")
def moto_url_backend_aws() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def sns_sqs_backend_aws(moto_url_backend_aws: str, request: pytest.FixtureRequest) -> object:
    url = moto_url_backend_aws
    prefix = f"c{uuid.uuid4().hex[:8]}-"
    options = {
        "aws_sns_sqs.region_name": "eu-west-1",
        "aws_sns_sqs.aws_access_key_id": "AKIDCONTRACT",
        "aws_sns_sqs.aws_secret_access_key": "contract-secret",
        "aws_sns_sqs.topic_prefix": prefix,
        "aws_sns_sqs.queue_name_prefix": prefix,
        "aws_endpoint_urls.sns": url,
        "aws_endpoint_urls.sqs": url,
        "aws_endpoint_urls.sts": url,
    }
    return Backend("aws", options, None)
