"""``import tomodachi`` stays light: transports and broker clients load only when used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_tomodachi_imports_no_transport_and_no_broker_client() -> None:
    modules = _modules_after("import tomodachi")
    heavy = {
        "aiohttp",
        "botocore",
        "aiobotocore",
        "aio_pika",
        "aiormq",
        "structlog",
        "tomodachi.transport.http",
    }
    assert not heavy & modules


def test_an_http_name_loads_the_http_transport_only() -> None:
    modules = _modules_after("import tomodachi\ntomodachi.http")
    assert "tomodachi.transport.http" in modules and "aiohttp" in modules
    assert not {"botocore", "aiobotocore", "aio_pika"} & modules


def test_unknown_attribute_is_an_attribute_error() -> None:
    import pytest

    import tomodachi

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tomodachi.nope  # noqa: B018


def test_message_decorators_do_not_import_broker_clients() -> None:
    modules = _modules_after(
        "import tomodachi\n"
        "tomodachi.amqp, tomodachi.amqp_publish, tomodachi.aws_sns_sqs, tomodachi.sqs_send_message\n"
        "tomodachi.envelope.JsonBase"
    )
    assert "tomodachi.transport.amqp" in modules and "tomodachi.transport.aws_sns_sqs" in modules
    assert not {"botocore", "aiobotocore", "aio_pika", "aiormq", "google.protobuf", "aiohttp"} & modules


def test_transport_aliases_are_the_same_module_objects() -> None:
    import tomodachi
    import tomodachi.transport.awssnssqs as alias
    from tomodachi.transport import aws_sns_sqs

    assert alias is aws_sns_sqs is tomodachi.transport.awssnssqs
    assert tomodachi.awssnssqs is tomodachi.aws_sns_sqs is aws_sns_sqs.aws_sns_sqs
    assert tomodachi.sns_publish is tomodachi.aws_sns_sqs_publish
    assert tomodachi.awssnssqs_send_message is tomodachi.sqs_send_message
