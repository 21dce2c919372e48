"""Classifying AWS errors and turning them into one line without secrets (no AWS needed)."""

from __future__ import annotations

import pytest

import tomodachi
from tomodachi.transport.aws_sns_sqs import AWSSNSSQSConnectionException, AWSSNSSQSException
from tomodachi.transport.aws_sns_sqs.clients import (
    AwsClients,
    ClientSettings,
    aws_error,
    is_missing_queue,
    is_transient,
)

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def settings(**changes: object) -> ClientSettings:
    options = tomodachi.Options(
        **{
            "aws_sns_sqs.region_name": "eu-west-1",
            "aws_sns_sqs.aws_access_key_id": "AKIAEXAMPLE",
            "aws_sns_sqs.aws_secret_access_key": SECRET,
            **changes,
        }
    )
    return ClientSettings.from_options(options)


def client_error(code: str, status: int = 400, message: str = "m") -> Exception:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ReceiveMessage")  # type: ignore[no-any-return]


def test_secret_is_never_in_reprs_or_keys() -> None:
    s = settings()
    assert SECRET not in repr(s)
    assert SECRET not in repr(s.key)
    assert SECRET not in repr(AwsClients(s))


def test_refused_credentials_name_the_key_id_not_the_secret() -> None:
    error = aws_error(
        client_error("InvalidClientTokenId", 403), settings(), "sqs", "GetQueueUrl(x)", start=True
    )
    assert isinstance(error, AWSSNSSQSConnectionException)
    text = str(error)
    assert "refused the credentials of access key id ****MPLE (InvalidClientTokenId)" in text
    assert "AWS SQS (eu-west-1)" in text
    assert SECRET not in text and "\n" not in text


def test_missing_region_and_credentials() -> None:
    region = aws_error(botocore_exceptions.NoRegionError(), settings(), "sqs", "x", start=True)
    assert "aws_sns_sqs.region_name" in str(region)
    credentials = aws_error(botocore_exceptions.NoCredentialsError(), settings(), "sns", "x", start=True)
    assert "no AWS credentials" in str(credentials)


def test_other_aws_errors_are_one_line_with_the_code() -> None:
    error = aws_error(
        client_error("AccessDenied", 403, "not allowed\non two lines"), settings(), "sns", "Publish(t)"
    )
    assert type(error) is AWSSNSSQSException
    assert str(error) == "Publish(t) failed at AWS SNS (eu-west-1): AccessDenied: not allowed on two lines"


def test_timeouts_name_the_endpoint() -> None:
    s = settings(**{"aws_endpoint_urls.sqs": "http://10.0.0.1:4566"})
    error = aws_error(TimeoutError(), s, "sqs", "GetQueueUrl(q)", start=True)
    assert (
        str(error)
        == "no answer from http://10.0.0.1:4566 to GetQueueUrl(q) in time: is the endpoint reachable?"
    )


def test_classification() -> None:
    assert is_transient(client_error("ThrottlingException"))
    assert is_transient(client_error("Whatever", 503))
    assert is_transient(botocore_exceptions.EndpointConnectionError(endpoint_url="http://x"))
    assert not is_transient(client_error("AccessDenied", 403))
    assert is_missing_queue(client_error("AWS.SimpleQueueService.NonExistentQueue"))
    assert not is_missing_queue(client_error("ThrottlingException"))


def test_sts_falls_back_to_the_sns_endpoint() -> None:
    s = settings(**{"aws_endpoint_urls.sns": "http://sns:1"})
    assert s.sts_endpoint == "http://sns:1"
