"""Envelopes chosen per service or per handler, end to end on the in-memory broker."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # type: ignore[import-untyped]

import tomodachi
from tomodachi.envelope import JsonBase, ProtobufBase
from tomodachi.testing import run_services


def _person_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="e2e/person.proto", package="e2e", syntax="proto3")
    message = file.message_type.add(name="Person")
    field = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    message.field.add(name="age", number=2, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("e2e.Person"))


Person = _person_class()


def _adults_only(person: Any) -> None:
    if person.age < 18:
        raise ValueError("minor")


async def test_protobuf_handler_with_proto_class_and_validator() -> None:
    received: list[tuple[str, int]] = []

    class People(tomodachi.Service):
        name = "people"
        message_envelope = JsonBase  # the per-handler envelope wins

        @tomodachi.aws_sns_sqs(
            "person.added", message_envelope=ProtobufBase, proto_class=Person, validator=_adults_only
        )
        async def on_person(self, data: Any) -> None:
            received.append((data.name, data.age))

    async with run_services(People) as app:
        ok = await app.publish("person.added", Person(name="Ada", age=36), message_envelope=ProtobufBase)
        minor = await app.publish("person.added", Person(name="Kid", age=9), message_envelope=ProtobufBase)
        assert (await ok.outcome()).handled
        report = await minor.outcome()
    assert received == [("Ada", 36)]
    assert report.result == "dropped" and report.attempts[-1].reason == "undecodable"


async def test_missing_proto_class_fails_start_up_with_one_line() -> None:
    class Broken(tomodachi.Service):
        name = "broken"

        @tomodachi.amqp("person.added", message_envelope=ProtobufBase)
        async def on_person(self, data: Any) -> None:
            pass

    with pytest.raises(tomodachi.TomodachiError, match=r"@amqp handler 'on_person'.*proto_class") as info:
        async with run_services(Broken):
            pass
    assert "\n" not in str(info.value)


async def test_custom_envelope_object_and_extra_keys() -> None:
    seen: list[Any] = []

    class Custom:
        @classmethod
        async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
            return f"custom|{data}"

        @classmethod
        async def parse_message(cls, payload: str, **kwargs: Any) -> tuple[dict[str, Any], None, None]:
            kind, data = payload.split("|", 1)
            return {"envelope": kind, "data": data}, None, None

    class Svc(tomodachi.Service):
        name = "svc"
        message_envelope = Custom

        @tomodachi.amqp("c.key")
        async def on_message(self, data: str, envelope: str, message_uuid: Any) -> None:
            seen.append((data, envelope, message_uuid))

    async with run_services(Svc) as app:
        assert (await (await app.publish_amqp("c.key", "hello")).outcome()).handled
    assert seen == [("hello", "custom", None)]


async def test_an_envelope_without_methods_is_a_configuration_error() -> None:
    class Svc(tomodachi.Service):
        name = "svc"

        @tomodachi.aws_sns_sqs("t", message_envelope=object())
        async def on_message(self, data: Any) -> None:
            pass

    with pytest.raises(tomodachi.TomodachiError, match="has no build_message"):
        async with run_services(Svc):
            pass
