"""Backends for the compatibility corpus, and the corpus runs shared by several tests.

Messaging tests are parametrized over the in-memory broker (``--message-broker memory``) and the
real broker of their family: RabbitMQ at 127.0.0.1:5672 (marker ``rabbitmq``) or moto, one server
per session (marker ``aws``). A real broker that is not there fails its tests, unless its
environment variable (``TOMODACHI_TEST_NO_RABBITMQ``, ``TOMODACHI_TEST_NO_AWS``) says it is
absent. The corpus services read their broker settings from the environment, the way the
original's test services do (``TOMODACHI_TEST_AWS_*``), so a backend is a set of
environment variables plus, for the in-memory broker, the command-line flag.

The slow corpus runs (messaging round trips, services that wait for a handler that may never be
called) are listed in :data:`SHARED_RUNS`: the first test that needs one starts all of them at
once, in the background, and each test then waits only for its own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests._moto_support import moto_server
from tests._support import broker_absent
from tests.compat._compat_support import Backend, Corpus, unique

RABBITMQ = ("127.0.0.1", 5672)

#: service file(s) (space-separated) -> the broker family it runs against: "amqp", "sns_sqs", or
#: None for one run without a broker.
SHARED_RUNS: dict[str, str | None] = {
    "amqp_service.py": "amqp",
    "amqp_middleware_service.py": "amqp",
    "aws_sns_sqs_service.py": "sns_sqs",
    "aws_sns_sqs_middleware_service.py": "sns_sqs",
    "lifecycle_service.py": None,
    "legacy_service.py": None,
    "exit_code_128_service.py": None,
    "exit_code_attribute_service.py": None,
    "exception_service.py": None,
    "exception_service_init.py": None,
    "empty_service.py": None,
    "non_service_class.py": None,
    "relative_service.py": None,
    "package_service/service.py": None,
    "schedule_service.py": None,
    "options_service.py": None,
    "options_init_service.py": None,
    "config_service.py -c config.json": None,
    "discovery_service.py": None,
    "discovery_aws_service.py": "sns_sqs",
    "wrapped_handlers_service.py": "sns_sqs",
    "startup_order_amqp_service.py": "amqp",
    "startup_order_sns_sqs_service.py": "sns_sqs",
    "inherit_service.py": None,
    "amqp_legacy_service.py": "amqp",
    "aws_sns_sqs_dlq_service.py": "sns_sqs",
    "pubsub_orders_service.py pubsub_shipping_service.py": "sns_sqs",
}
FAMILIES = {"amqp": ("memory", "rabbitmq"), "sns_sqs": ("memory", "aws")}
#: The marker of each real broker's tests (the in-memory broker has none).
MARKS: dict[str, Any] = {"rabbitmq": pytest.mark.rabbitmq, "aws": pytest.mark.aws}
#: The backend of runs without a broker.
PLAIN = Backend("plain", None)


def _rabbitmq_problem() -> str | None:
    try:
        with socket.create_connection(RABBITMQ, timeout=2):
            return None
    except OSError as exc:
        host, port = RABBITMQ
        return f"RabbitMQ is not running at {host}:{port} ({exc}); start it with 'rabbitmq-server -detached'"


def _amqp_env() -> dict[str, str]:
    return {"COMPAT_AMQP_PREFIX": unique("q") + "."}


def _aws_env(url: str) -> dict[str, str]:
    prefix = unique("t")[:7] + "-"  # queue names: prefix + 64 hex digits (+ .fifo) <= 80
    return {
        "TOMODACHI_TEST_AWS_REGION": "eu-west-1",
        "TOMODACHI_TEST_AWS_ACCESS_KEY_ID": "AKIDCOMPAT",
        "TOMODACHI_TEST_AWS_ACCESS_SECRET": "compat-secret",
        "TOMODACHI_TEST_SQS_QUEUE_PREFIX": prefix,
        "TOMODACHI_TEST_SNS_TOPIC_PREFIX": prefix,
        "TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL": url,
        "TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL": url,
    }


class Backends:
    """Makes a fresh :class:`Backend` (own names) per run; knows which real brokers are absent.

    *absent*: backend -> why its tests are skipped (an environment variable says so); *broken*:
    backend -> why it cannot be used (its tests fail with that reason).
    """

    def __init__(self, moto_url: str | None, absent: dict[str, str], broken: dict[str, str]) -> None:
        self.moto_url = moto_url
        self.absent = absent
        self.broken = broken

    @property
    def missing(self) -> set[str]:
        return set(self.absent) | set(self.broken)

    def make(self, family: str, name: str) -> Backend:
        if name in self.absent:
            pytest.skip(self.absent[name])
        if name in self.broken:
            pytest.fail(self.broken[name])
        if family == "amqp":
            return Backend(name, "memory" if name == "memory" else None, _amqp_env())
        return Backend(
            name, "memory" if name == "memory" else None, _aws_env(self.moto_url or "http://127.0.0.1:9")
        )


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    absent = {name: reason for name in MARKS if (reason := broker_absent(name))}
    broken: dict[str, str] = {}
    if "rabbitmq" not in absent and (problem := _rabbitmq_problem()):
        broken["rabbitmq"] = problem
    if "aws" in absent:
        yield Backends(None, absent, broken)
        return
    with moto_server() as url:
        yield Backends(url, absent, broken)


@pytest.fixture(scope="session")
def corpus(backends: Backends) -> Iterator[Corpus]:
    """The shared corpus runs (:data:`SHARED_RUNS`), all started together on first use."""
    runs = {}
    for file, family in SHARED_RUNS.items():
        if family is None:
            runs[(file, PLAIN.name)] = PLAIN
            continue
        for name in FAMILIES[family]:
            if name not in backends.missing:
                runs[(file, name)] = backends.make(family, name)
    with Corpus(runs) as started:
        yield started


def _params(family: str) -> list[Any]:
    return [pytest.param(name, marks=MARKS.get(name, ())) for name in FAMILIES[family]]


@pytest.fixture(scope="module", params=_params("amqp"))
def amqp_backend(request: pytest.FixtureRequest, backends: Backends) -> Backend:
    """An AMQP backend: the in-memory broker, or RabbitMQ."""
    return backends.make("amqp", request.param)


@pytest.fixture(scope="module", params=_params("sns_sqs"))
def sns_sqs_backend(request: pytest.FixtureRequest, backends: Backends) -> Backend:
    """An SNS+SQS backend: the in-memory broker, or moto's server."""
    return backends.make("sns_sqs", request.param)
