"""ProtobufBase: wire format, compression, validators, deprecated encodings and bad input."""

from __future__ import annotations

import base64
import re
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.protobuf")

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # type: ignore[import-untyped]

from tomodachi.envelope import EnvelopeEncodeError, MessageEnvelope, ProtobufBase
from tomodachi.envelope import protobuf_base as protobuf_base_module
from tomodachi.envelope._sns_sqs_message import Metadata, Service, SNSSQSMessage
from tomodachi.errors import ConfigurationError

PROTO_FILE = Path(protobuf_base_module.__file__).parent / "protobuf" / "sns_sqs_message.proto"
FIXED_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
FIXED_TIME = 1700000000.25


def _person_class() -> Any:
    """``message Person { string name = 1; int32 age = 2; }`` in package ``test``, built at runtime."""
    file = descriptor_pb2.FileDescriptorProto(name="test/person.proto", package="test", syntax="proto3")
    person = file.message_type.add(name="Person")
    field_type = descriptor_pb2.FieldDescriptorProto
    person.field.add(name="name", number=1, type=field_type.TYPE_STRING, label=field_type.LABEL_OPTIONAL)
    person.field.add(name="age", number=2, type=field_type.TYPE_INT32, label=field_type.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("test.Person"))


Person = _person_class()


class FakeService:
    name = "svc"
    uuid = "instance-1"


# A hand-written protobuf encoder: an independent reference for the envelope's wire format.
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, value: bytes | str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _double_field(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def reference_envelope(
    data: bytes, data_encoding: str, *, message_uuid: str = "peer.1", timestamp: float = 1234.5
) -> str:
    service = _bytes_field(1, "peer") + _bytes_field(2, "peer-uuid")
    metadata = (
        _bytes_field(1, message_uuid)
        + _bytes_field(2, "tomodachi-protobuf-base--1.0.0")
        + _double_field(3, timestamp)
        + _bytes_field(4, "people")
        + _bytes_field(5, data_encoding)
    )
    envelope = _bytes_field(1, service) + _bytes_field(2, metadata) + _bytes_field(3, data)
    return base64.b64encode(envelope).decode("ascii")


def person_bytes(name: str = "Ada", age: int = 36) -> bytes:
    return _bytes_field(1, name) + (_varint(2 << 3 | 0) + _varint(age) if age else b"")


def test_protobufbase_is_a_message_envelope() -> None:
    assert isinstance(ProtobufBase, MessageEnvelope)
    assert protobuf_base_module.PROTOCOL_VERSION == "tomodachi-protobuf-base--1.0.0"
    assert protobuf_base_module.SNSSQSMessage is SNSSQSMessage


def test_the_runtime_descriptor_matches_the_documented_proto_file() -> None:
    text = PROTO_FILE.read_text()
    assert re.search(r"^package proto;$", text, re.MULTILINE)
    documented = {
        name: {
            field: (kind, int(number)) for kind, field, number in re.findall(r"(\w+) (\w+) = (\d+);", body)
        }
        for name, body in re.findall(r"message (\w+) \{(.*?)\}", text, re.DOTALL)
    }
    scalar = {"string": "TYPE_STRING", "double": "TYPE_DOUBLE", "bytes": "TYPE_BYTES"}
    actual: dict[str, dict[str, tuple[str, int]]] = {}
    for cls in (Service, Metadata, SNSSQSMessage):
        descriptor = cls.DESCRIPTOR
        assert descriptor.full_name == f"proto.{descriptor.name}"
        actual[descriptor.name] = {
            field.name: (field.message_type.name if field.message_type else "", field.number)
            for field in descriptor.fields
        }
        for field in descriptor.fields:
            if not field.message_type:
                kind = documented[descriptor.name][field.name][0]
                assert field.type == getattr(descriptor_pb2.FieldDescriptorProto, scalar[kind])
                actual[descriptor.name][field.name] = (kind, field.number)
    assert actual == documented


async def test_build_message_matches_the_reference_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{protobuf_base_module.__name__}.uuid.uuid4", lambda: FIXED_UUID)
    monkeypatch.setattr(f"{protobuf_base_module.__name__}.time.time", lambda: FIXED_TIME)
    payload = await ProtobufBase.build_message(FakeService(), "people", Person(name="Ada", age=36))

    service = _bytes_field(1, "svc") + _bytes_field(2, "instance-1")
    metadata = (
        _bytes_field(1, f"instance-1.{FIXED_UUID}")
        + _bytes_field(2, "tomodachi-protobuf-base--1.0.0")
        + _double_field(3, FIXED_TIME)
        + _bytes_field(4, "people")
        + _bytes_field(5, "proto")
    )
    expected = _bytes_field(1, service) + _bytes_field(2, metadata) + _bytes_field(3, person_bytes())
    assert payload == base64.b64encode(expected).decode("ascii")


async def test_round_trip() -> None:
    payload = await ProtobufBase.build_message(
        FakeService(), "people", Person(name="Ada", age=36), message_attributes={"x": "y"}
    )
    assert isinstance(payload, str)
    message, message_uuid, timestamp = await ProtobufBase.parse_message(payload, proto_class=Person)
    assert isinstance(message["data"], Person)
    assert (message["data"].name, message["data"].age) == ("Ada", 36)
    assert message["service"] == {"name": "svc", "uuid": "instance-1"}
    assert message["metadata"]["topic"] == "people"
    assert message["metadata"]["data_encoding"] == "proto"
    assert message["metadata"]["protocol_version"] == "tomodachi-protobuf-base--1.0.0"
    assert set(message["metadata"]) == {
        "message_uuid",
        "protocol_version",
        "timestamp",
        "topic",
        "data_encoding",
    }
    assert message_uuid == message["metadata"]["message_uuid"] and message_uuid.startswith("instance-1.")
    assert timestamp == message["metadata"]["timestamp"] and isinstance(timestamp, float)


async def test_service_without_name_or_uuid() -> None:
    message, message_uuid, _ = await ProtobufBase.parse_message(
        await ProtobufBase.build_message(object(), "t", Person(name="x")), proto_class=Person
    )
    assert message["service"] == {"name": "", "uuid": ""} and message_uuid.startswith(".")


async def test_compression_starts_at_exactly_60000_bytes() -> None:
    below, at = Person(name="x" * 59995), Person(name="x" * 59996)
    assert (len(below.SerializeToString()), len(at.SerializeToString())) == (59999, 60000)

    for person, encoding in ((below, "proto"), (at, "gzip_proto")):
        payload = await ProtobufBase.build_message(FakeService(), "t", person)
        envelope = SNSSQSMessage()
        envelope.ParseFromString(base64.b64decode(payload))
        assert envelope.metadata.data_encoding == encoding
        message, _, _ = await ProtobufBase.parse_message(payload, proto_class=Person)
        assert message["data"] == person
        assert message["metadata"]["data_encoding"] == encoding
    assert len(payload) < 1000  # the last one really is compressed
    assert zlib.decompress(envelope.data) == at.SerializeToString()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("proto", lambda raw: raw),
        ("gzip_proto", zlib.compress),
        ("base64", base64.b64encode),  # deprecated
        ("base64_gzip_proto", lambda raw: base64.b64encode(zlib.compress(raw))),  # deprecated
        ("raw", lambda raw: raw),  # deprecated
        ("", lambda raw: raw),  # not set by the sender
    ],
)
async def test_reference_messages_parse_in_every_data_encoding(encoding: str, encode: Any) -> None:
    payload = reference_envelope(encode(person_bytes()), encoding)
    message, message_uuid, timestamp = await ProtobufBase.parse_message(payload, proto_class=Person)
    assert (message["data"].name, message["data"].age) == ("Ada", 36)
    assert message["service"] == {"name": "peer", "uuid": "peer-uuid"}
    assert message["metadata"] == {
        "message_uuid": "peer.1",
        "protocol_version": "tomodachi-protobuf-base--1.0.0",
        "timestamp": 1234.5,
        "topic": "people",
        "data_encoding": encoding,
    }
    assert (message_uuid, timestamp) == ("peer.1", 1234.5)


async def test_bytes_payload_is_accepted() -> None:
    payload = await ProtobufBase.build_message(FakeService(), "t", Person(name="b"))
    message, _, _ = await ProtobufBase.parse_message(payload.encode("ascii"), proto_class=Person)
    assert message["data"].name == "b"


def _reject_minors(person: Any) -> None:
    if person.age < 18:
        raise ValueError("too young")


class ValidatorHolder:
    @staticmethod
    def validator(person: Any) -> None:
        _reject_minors(person)


@pytest.mark.parametrize(
    "validator", [_reject_minors, staticmethod(_reject_minors), ValidatorHolder.__dict__["validator"]]
)
async def test_validator_accepts_and_rejects(validator: Any) -> None:
    adult = await ProtobufBase.build_message(FakeService(), "t", Person(name="a", age=30))
    message, _, _ = await ProtobufBase.parse_message(adult, proto_class=Person, validator=validator)
    assert message["data"].age == 30

    minor = await ProtobufBase.build_message(FakeService(), "t", Person(name="m", age=3))
    with pytest.raises(ValueError, match="too young"):
        await ProtobufBase.parse_message(minor, proto_class=Person, validator=validator)


async def test_validator_receives_the_parsed_object() -> None:
    seen: list[Any] = []
    payload = await ProtobufBase.build_message(FakeService(), "t", Person(name="v", age=1))
    await ProtobufBase.parse_message(payload, proto_class=Person, validator=seen.append)
    assert len(seen) == 1 and isinstance(seen[0], Person) and seen[0].name == "v"


async def test_parse_without_proto_class_raises_value_error() -> None:
    payload = await ProtobufBase.build_message(FakeService(), "t", Person(name="a"))
    with pytest.raises(ValueError, match="needs proto_class"):
        await ProtobufBase.parse_message(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "!!!",
        "ÿ not ascii",
        base64.b64encode(b"\xff\xff\xff\xff").decode(),
        base64.b64encode(b"\x0a\x05ab").decode(),  # truncated length-delimited field
        '{"service": {}, "metadata": {}, "data": 1}',  # a JsonBase message
        None,
    ],
)
async def test_garbage_payloads_raise_value_error(payload: Any) -> None:
    with pytest.raises(ValueError, match="not a ProtobufBase message"):
        await ProtobufBase.parse_message(payload, proto_class=Person)


@pytest.mark.parametrize(
    ("data", "encoding", "match"),
    [
        (b"not zlib", "gzip_proto", "undecodable gzip_proto data for Person"),
        (b"\xff\xff", "proto", "undecodable proto data for Person"),
        (b"@@@", "base64_gzip_proto", "undecodable base64_gzip_proto"),
        (person_bytes(), "rot13", "^not a ProtobufBase message: unknown data_encoding 'rot13'$"),
    ],
)
async def test_undecodable_data_raises_value_error(data: bytes, encoding: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        await ProtobufBase.parse_message(reference_envelope(data, encoding), proto_class=Person)


@pytest.mark.parametrize("data", [{"name": "a"}, "text", b"bytes", None, Person])
async def test_non_protobuf_data_raises_envelope_encode_error(data: Any) -> None:
    with pytest.raises(
        EnvelopeEncodeError, match=f"ProtobufBase cannot encode data of type {type(data).__name__}"
    ):
        await ProtobufBase.build_message(FakeService(), "t", data)


def test_validate_accepts_a_message_class_and_a_callable_validator() -> None:
    assert ProtobufBase.validate(proto_class=Person) is None
    assert ProtobufBase.validate(proto_class=Person, validator=_reject_minors, other=1) is None
    assert ProtobufBase.validate(proto_class=Person, validator=staticmethod(_reject_minors)) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs proto_class"),
        ({"proto_class": None}, "needs proto_class"),
        ({"proto_class": dict}, "must be a protobuf message class"),
        ({"proto_class": Person()}, "must be a protobuf message class"),
        ({"proto_class": "Person"}, "must be a protobuf message class"),
        ({"proto_class": Person, "validator": "not callable"}, "validator must be callable"),
    ],
)
def test_validate_rejects_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ProtobufBase.validate(**kwargs)
