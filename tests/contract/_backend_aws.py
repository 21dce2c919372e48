"""The ``aws`` SNS+SQS contract backend: the AWS transport (aiobotocore) against moto's server.

moto runs once per test session on 127.0.0.1 and a free port; each test gets its own topic and
queue prefix, so tests never see each other's topics or queues.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from contract_support import Backend

SNS_SQS = ["aws"]


@pytest.fixture(scope="session")
def moto_url_backend_aws() -> Iterator[str]:
    pytest.importorskip("aiobotocore")
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
