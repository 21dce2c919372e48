"""The shared message pipeline: keyword injection, middleware and settling, per reference 2.2/2.3/8."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.entrypoint import Entrypoint
from tomodachi.envelope import JsonBase
from tomodachi.messaging.pipeline import MessageHandler, Settle
from tomodachi.transport.base import Handler, Transport


class _Service:
    name = "svc"
    uuid = "uuid-1"
    message_middleware: list[Any] = []


def _pipeline(
    func: Any, *, envelope: Any = JsonBase, middleware: Any = None, **kwargs: Any
) -> MessageHandler:
    handler = Handler(func.__name__, func, Entrypoint(Transport))
    return MessageHandler(
        _Service(),
        handler,
        kind="aws_sns_sqs",
        positional_key="topic",
        envelope=envelope,
        middleware=middleware or [],
        **kwargs,
    )


async def _payload(data: Any) -> str:
    return await JsonBase.build_message(_Service(), "t", data)


async def test_envelope_keys_and_transport_values_are_injected_by_name() -> None:
    seen: dict[str, Any] = {}

    async def handler(
        data: Any, metadata: dict[str, Any], topic: str, message_uuid: str, unknown: Any
    ) -> None:
        seen.update(data=data, topic=topic, uuid=message_uuid, meta_topic=metadata["topic"], unknown=unknown)

    outcome = await _pipeline(handler)(await _payload({"a": 1}), {"topic": "real"}, message_id="m")
    assert outcome.settle is Settle.ACK
    assert seen["data"] == {"a": 1} and seen["topic"] == "real" and seen["meta_topic"] == "t"
    assert seen["uuid"].startswith("uuid-1.") and seen["unknown"] is None


async def test_envelope_dict_keys_win_over_transport_values() -> None:
    seen: list[Any] = []

    class Custom:
        @classmethod
        async def parse_message(cls, payload: str, **kwargs: Any) -> tuple[dict[str, Any], None, None]:
            return {"topic": "from-envelope", "data": payload}, None, None

        @classmethod
        async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
            return str(data)

    async def handler(topic: str, data: str) -> None:
        seen.append((topic, data))

    await _pipeline(handler, envelope=Custom)("x", {"topic": "transport"}, message_id="m")
    assert seen == [("from-envelope", "x")]


async def test_without_envelope_the_first_positional_gets_the_payload_and_defaults_stay() -> None:
    seen: list[Any] = []

    def sync_handler(body: str, topic: str = "default", other: int = 5) -> None:
        seen.append((body, topic, other))

    outcome = await _pipeline(sync_handler, envelope=None)("raw", {"topic": "t"}, message_id="m")
    assert outcome.handled and seen == [("raw", "t", 5)]


async def test_callback_kwargs_limit_what_is_injected() -> None:
    seen: list[Any] = []

    async def handler(**kwargs: Any) -> None:
        seen.append(sorted(kwargs))

    await _pipeline(handler, callback_kwargs=("data", "topic"))(
        await _payload(1), {"topic": "t"}, message_id="m"
    )
    assert seen == [["data", "topic"]]


async def test_middleware_chain_positional_arguments_and_extra_keywords() -> None:
    calls: list[Any] = []

    async def outer(func: Any, service: Any, message: Any, topic: str, context: dict[str, Any]) -> None:
        context["seen"] = True
        calls.append(("outer", service.name, message["data"], topic))
        await func(added=1, topic="cannot-override")

    async def inner(func: Any, *, added: int, topic: str) -> None:
        calls.append(("inner", added, topic))
        await func()

    async def handler(data: Any, added: int, topic: str) -> None:
        calls.append(("handler", data, added, topic))

    outcome = await _pipeline(handler, middleware=[outer, inner])(
        await _payload("d"), {"topic": "t"}, message_id="m"
    )
    assert outcome.handled
    assert calls == [("outer", "svc", "d", "t"), ("inner", 1, "t"), ("handler", "d", 1, "t")]


@pytest.mark.parametrize(
    ("exception", "settle", "reason"),
    [
        (tomodachi.RetryMessage("again"), Settle.RETRY, "retry requested"),
        (tomodachi.transport.amqp.AmqpInternalServiceError("x"), Settle.RETRY, "retry requested"),
        (tomodachi.transport.aws_sns_sqs.AWSSNSSQSInternalServiceError("x"), Settle.RETRY, "retry requested"),
        (tomodachi.RejectMessage("never"), Settle.DEAD_LETTER, "rejected"),
        (KeyError("bug"), Settle.DEAD_LETTER, "handler failed"),
    ],
)
async def test_exceptions_decide_how_the_message_is_settled(
    exception: Exception, settle: Settle, reason: str
) -> None:
    async def handler(data: Any) -> None:
        raise exception

    outcome = await _pipeline(handler)(await _payload(1), {}, message_id="m")
    assert (outcome.settle, outcome.reason, outcome.error) == (settle, reason, exception)


async def test_a_raising_middleware_is_a_handler_failure() -> None:
    async def broken(func: Any) -> None:
        raise RuntimeError("middleware bug")

    async def handler() -> None:
        raise AssertionError("not reached")

    outcome = await _pipeline(handler, middleware=[broken])(await _payload(1), {}, message_id="m")
    assert outcome.settle is Settle.DEAD_LETTER and outcome.reason == "handler failed"


async def test_undecodable_payload_is_dead_lettered() -> None:
    async def handler(data: Any) -> None:
        raise AssertionError("not reached")

    outcome = await _pipeline(handler)("{not json", {}, message_id="m")
    assert outcome.settle is Settle.DEAD_LETTER and outcome.reason == "undecodable"


def test_original_exception_families_are_retry_exceptions() -> None:
    from tomodachi.transport import amqp, aws_sns_sqs

    for cls in (
        amqp.AmqpInternalServiceError,
        amqp.AmqpInternalServiceErrorException,
        amqp.AmqpInternalServiceException,
        aws_sns_sqs.AWSSNSSQSInternalServiceError,
        aws_sns_sqs.AWSSNSSQSInternalServiceErrorException,
        aws_sns_sqs.AWSSNSSQSInternalServiceException,
    ):
        assert issubclass(cls, tomodachi.RetryMessage)
    assert aws_sns_sqs.AWSSNSSQSException("x", log_level="warning").log_level == "warning"
