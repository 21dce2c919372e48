"""Message families and the in-memory broker: tomodachi.messaging.backend."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import tomodachi
from tomodachi.errors import ConfigurationError, TomodachiError
from tomodachi.messaging import backend
from tomodachi.messaging.backend import (
    MessageFamily,
    memory_model,
    message_families,
    register_message_family,
    uses_memory_broker,
)
from tomodachi.options import Options, OptionsInterface, checks, option, register_section
from tomodachi.options.sections import REGISTERED
from tomodachi.runtime import Runtime
from tomodachi.testing import run_services
from tomodachi.transport.amqp.backend import AMQP_FAMILY, backend_for
from tomodachi.transport.aws_sns_sqs.client import SNS_SQS_FAMILY, client_class


class QueueOptions(OptionsInterface):
    broker: str = option("real", checks.choice_check("real", "memory"))


@pytest.fixture
def queue_family() -> Iterator[MessageFamily]:
    register_section("testqueue", QueueOptions)
    family = register_message_family("testqueue", broker_option="testqueue.broker")
    yield family
    REGISTERED.pop("testqueue", None)
    backend._FAMILIES.pop("testqueue", None)


def _service(**options: Any) -> Any:
    return SimpleNamespace(options=Options(**options))


def test_a_family_runs_in_memory_by_its_option_or_by_the_run(queue_family: MessageFamily) -> None:
    runtime = Runtime()
    assert message_families()["testqueue"] == queue_family
    assert not uses_memory_broker(_service(), runtime, queue_family)
    assert uses_memory_broker(_service(**{"testqueue.broker": "memory"}), runtime, "testqueue")
    assert not uses_memory_broker(_service(**{"amqp.broker": "memory"}), runtime, "testqueue")
    runtime.message_broker = "memory"  # --message-broker memory: every family
    assert uses_memory_broker(_service(), runtime, "testqueue")


def test_registration_rules(queue_family: MessageFamily) -> None:
    assert register_message_family("testqueue", broker_option="testqueue.broker") is queue_family
    with pytest.raises(ConfigurationError, match="already registered"):
        register_message_family("testqueue", broker_option="testqueue.other")
    with pytest.raises(TomodachiError, match="Unknown message family 'nope'"):
        uses_memory_broker(_service(), Runtime(), "nope")


def test_the_builtin_families_choose_their_backend_with_the_same_function() -> None:
    runtime = Runtime()
    assert message_families()["amqp"] == AMQP_FAMILY == MessageFamily("amqp", "amqp.broker")
    assert message_families()["aws_sns_sqs"] == SNS_SQS_FAMILY
    assert backend_for(_service(**{"amqp.broker": "memory"}), runtime).__name__ == "MemoryAmqpBackend"
    assert (
        client_class(_service(**{"aws_sns_sqs.broker": "memory"}), runtime).__name__ == "MemorySnsSqsClient"
    )
    runtime.message_broker = "memory"
    assert backend_for(_service(), runtime).__name__ == "MemoryAmqpBackend"
    assert client_class(_service(), runtime).__name__ == "MemorySnsSqsClient"


async def test_memory_model_is_one_per_run_and_closed_with_it(queue_family: MessageFamily) -> None:
    closed: list[object] = []

    async def close(model: dict[str, int]) -> None:
        closed.append(model)

    first, second = Runtime(), Runtime()
    model = memory_model(first, queue_family, dict, close)
    assert memory_model(first, "testqueue", dict, close) is model
    assert memory_model(second, "testqueue", dict, close) is not model
    await first.aclose()
    await second.aclose()
    assert closed[0] is model and len(closed) == 2


class QueueTransport(tomodachi.Transport):
    seen: list[bool] = []

    async def start(self) -> None:
        QueueTransport.seen.append(uses_memory_broker(self.service, self.runtime, "testqueue"))


@pytest.mark.usefixtures("queue_family")
@pytest.mark.parametrize(("message_broker", "expected"), [("memory", True), (None, False)])
async def test_tomodachi_testing_switches_a_custom_family(message_broker: str | None, expected: bool) -> None:
    class Service(tomodachi.Service):
        name = "queue-user"

        @QueueTransport.decorator()
        async def on_job(self) -> None: ...

    QueueTransport.seen = []
    async with run_services(Service, message_broker=message_broker):
        pass
    assert QueueTransport.seen == [expected]
