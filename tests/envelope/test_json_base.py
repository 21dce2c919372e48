"""JsonBase: exact wire format, the 60000-character compression rule, interop and bad input."""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tomodachi.envelope import EnvelopeEncodeError, JsonBase, MessageEnvelope
from tomodachi.envelope import json_base as json_base_module
from tomodachi.errors import TomodachiError

FIXED_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
FIXED_TIME = 1700000000.25


class FakeService:
    name = "svc"
    uuid = "instance-1"


def reference_build(
    service_name: str, service_uuid: str, topic: str, data: Any, message_uuid: str, timestamp: float
) -> str:
    """An independent implementation of the JsonBase wire format, straight from the spec."""
    data_encoding = "raw"
    if len(json.dumps(data)) >= 60000:
        data = base64.b64encode(zlib.compress(json.dumps(data).encode("utf-8"))).decode("utf-8")
        data_encoding = "base64_gzip_json"
    return json.dumps(
        {
            "service": {"name": service_name, "uuid": service_uuid},
            "metadata": {
                "message_uuid": message_uuid,
                "protocol_version": "tomodachi-json-base--1.0.0",
                "compatible_protocol_versions": ["json_base-wip"],
                "timestamp": timestamp,
                "topic": topic,
                "data_encoding": data_encoding,
            },
            "data": data,
        }
    )


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{json_base_module.__name__}.uuid.uuid4", lambda: FIXED_UUID)
    monkeypatch.setattr(f"{json_base_module.__name__}.time.time", lambda: FIXED_TIME)


def test_jsonbase_is_a_message_envelope() -> None:
    assert isinstance(JsonBase, MessageEnvelope)
    assert json_base_module.PROTOCOL_VERSION == "tomodachi-json-base--1.0.0"


@pytest.mark.usefixtures("fixed_ids")
async def test_build_message_writes_the_exact_wire_format() -> None:
    payload = await JsonBase.build_message(FakeService(), "orders", {"id": 1, "name": "å"})
    assert payload == (
        '{"service": {"name": "svc", "uuid": "instance-1"}, '
        '"metadata": {"message_uuid": "instance-1.12345678-1234-5678-1234-567812345678", '
        '"protocol_version": "tomodachi-json-base--1.0.0", '
        '"compatible_protocol_versions": ["json_base-wip"], '
        '"timestamp": 1700000000.25, "topic": "orders", "data_encoding": "raw"}, '
        '"data": {"id": 1, "name": "\\u00e5"}}'
    )


@pytest.mark.usefixtures("fixed_ids")
@pytest.mark.parametrize(
    "data",
    [None, 0, -1.5, "text", "ünïcode ☃ \U0001f600", [1, [2, {"x": None}]], {"a": True}, "x" * 59997],
)
async def test_build_message_matches_the_reference_implementation(data: Any) -> None:
    payload = await JsonBase.build_message(FakeService(), "t", data)
    expected = reference_build("svc", "instance-1", "t", data, f"instance-1.{FIXED_UUID}", FIXED_TIME)
    assert payload == expected


async def test_service_without_name_or_uuid_gets_empty_strings() -> None:
    message, message_uuid, _ = await JsonBase.parse_message(await JsonBase.build_message(object(), "t", 1))
    assert message["service"] == {"name": "", "uuid": ""}
    assert message_uuid.startswith(".") and uuid.UUID(message_uuid[1:])


async def test_round_trip_returns_service_metadata_data_uuid_and_timestamp() -> None:
    data = {"list": [1, 2.5, "three"], "nested": {"ok": True}, "none": None}
    payload = await JsonBase.build_message(FakeService(), "orders", data, message_attributes={"a": "b"})
    message, message_uuid, timestamp = await JsonBase.parse_message(payload)
    assert message["data"] == data
    assert message["service"] == {"name": "svc", "uuid": "instance-1"}
    assert set(message["metadata"]) == {
        "message_uuid",
        "protocol_version",
        "timestamp",
        "topic",
        "data_encoding",
    }
    assert message["metadata"]["topic"] == "orders"
    assert message["metadata"]["data_encoding"] == "raw"
    assert message["metadata"]["protocol_version"] == "tomodachi-json-base--1.0.0"
    assert message_uuid == message["metadata"]["message_uuid"]
    assert message_uuid.startswith("instance-1.")
    assert timestamp == message["metadata"]["timestamp"] and isinstance(timestamp, float)


async def test_bytes_payload_is_accepted() -> None:
    payload = await JsonBase.build_message(FakeService(), "t", ["å"])
    message, _, _ = await JsonBase.parse_message(payload.encode("utf-8"))
    assert message["data"] == ["å"]


async def test_compression_starts_at_exactly_60000_characters() -> None:
    below, at = "x" * 59997, "x" * 59998  # JSON text: 59999 and 60000 characters
    assert (len(json.dumps(below)), len(json.dumps(at))) == (59999, 60000)

    raw = json.loads(await JsonBase.build_message(FakeService(), "t", below))
    assert raw["metadata"]["data_encoding"] == "raw" and raw["data"] == below

    packed_payload = await JsonBase.build_message(FakeService(), "t", at)
    packed = json.loads(packed_payload)
    assert packed["metadata"]["data_encoding"] == "base64_gzip_json"
    assert json.loads(zlib.decompress(base64.b64decode(packed["data"]))) == at
    assert len(packed_payload) < 1000  # it really is compressed

    message, _, _ = await JsonBase.parse_message(packed_payload)
    assert message["data"] == at
    assert message["metadata"]["data_encoding"] == "base64_gzip_json"


async def test_large_structured_data_round_trips() -> None:
    data = {"rows": [{"id": i, "name": f"row {i}", "tags": ["a", "b"]} for i in range(3000)]}
    assert len(json.dumps(data)) >= 60000
    message, _, _ = await JsonBase.parse_message(await JsonBase.build_message(FakeService(), "t", data))
    assert message["data"] == data
    assert message["metadata"]["data_encoding"] == "base64_gzip_json"


@pytest.mark.parametrize("data", [{"n": 1}, "x" * 70000])
async def test_messages_from_the_reference_implementation_parse(data: Any) -> None:
    payload = reference_build("other", "peer-9", "topic.a", data, "peer-9.abc", 1234.5)
    message, message_uuid, timestamp = await JsonBase.parse_message(payload)
    assert message == {
        "service": {"name": "other", "uuid": "peer-9"},
        "metadata": {
            "message_uuid": "peer-9.abc",
            "protocol_version": "tomodachi-json-base--1.0.0",
            "timestamp": 1234.5,
            "topic": "topic.a",
            "data_encoding": "raw" if isinstance(data, dict) else "base64_gzip_json",
        },
        "data": data,
    }
    assert (message_uuid, timestamp) == ("peer-9.abc", 1234.5)


async def test_minimal_foreign_message_without_optional_metadata_parses() -> None:
    payload = json.dumps({"service": {}, "metadata": {"message_uuid": "m", "timestamp": 1}, "data": [1]})
    message, message_uuid, timestamp = await JsonBase.parse_message(payload)
    assert message["data"] == [1] and (message_uuid, timestamp) == ("m", 1)
    assert message["metadata"]["data_encoding"] == "raw"
    assert message["service"] == {"name": None, "uuid": None}


async def test_numbers_and_strings_decode_exactly_like_the_stdlib() -> None:
    # orjson (when installed) would turn the big integers into floats and reject NaN and lone
    # surrogates; the envelope must give the same values as json.loads.
    data = [2**70, -(2**63) - 1, 18446744073709551615, float("inf"), "\ud800", 0.1, -0.0]
    message, _, _ = await JsonBase.parse_message(await JsonBase.build_message(FakeService(), "t", data))
    assert repr(message["data"]) == repr(data)
    nan_message, _, _ = await JsonBase.parse_message(
        await JsonBase.build_message(FakeService(), "t", [float("nan")])
    )
    assert nan_message["data"][0] != nan_message["data"][0]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=_json_values)
async def test_any_json_value_round_trips(data: Any) -> None:
    payload = await JsonBase.build_message(FakeService(), "t", data)
    assert json.loads(payload)["data"] == data  # the stdlib reads what we write
    message, _, _ = await JsonBase.parse_message(payload)
    assert message["data"] == data


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("not json", "invalid JSON"),
        ("", "invalid JSON"),
        (b"\xff\xfe\x00", "invalid JSON"),
        ("[1, 2]", "JSON list"),
        ('"text"', "JSON str"),
        ("{}", "required"),
        ('{"service": {}, "metadata": {"message_uuid": "m", "timestamp": 1}}', "required"),
        ('{"service": "x", "metadata": {}, "data": 1}', "required"),
        ('{"service": {}, "metadata": {"timestamp": 1}, "data": 1}', "lacks message_uuid"),
        (
            '{"service": {}, "metadata": {"message_uuid": "m", "timestamp": 1, '
            '"data_encoding": "base64_gzip_json"}, "data": "!!not base64!!"}',
            "undecodable base64_gzip_json",
        ),
        (
            '{"service": {}, "metadata": {"message_uuid": "m", "timestamp": 1, '
            '"data_encoding": "base64_gzip_json"}, "data": 12}',
            "undecodable base64_gzip_json",
        ),
        (
            '{"service": {}, "metadata": {"message_uuid": "m", "timestamp": 1, '
            '"data_encoding": "rot13"}, "data": 1}',
            "unknown data_encoding 'rot13'",
        ),
    ],
)
async def test_malformed_payloads_raise_value_error(payload: Any, match: str) -> None:
    with pytest.raises(ValueError, match="not a JsonBase message") as info:
        await JsonBase.parse_message(payload)
    assert match in str(info.value)
    assert not isinstance(info.value, KeyError)


async def test_non_text_payload_raises_value_error() -> None:
    with pytest.raises(ValueError, match="payload of type NoneType"):
        await JsonBase.parse_message(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "type_name", "reason"),
    [
        ({1, 2}, "set", "Object of type set is not JSON serializable"),
        ({"when": object()}, "dict", "Object of type object is not JSON serializable"),
        ({(1, 2): "tuple key"}, "dict", "keys must be"),
    ],
)
async def test_unencodable_data_raises_envelope_encode_error(data: Any, type_name: str, reason: str) -> None:
    with pytest.raises(EnvelopeEncodeError) as info:
        await JsonBase.build_message(FakeService(), "t", data)
    assert str(info.value).startswith(f"JsonBase cannot encode data of type {type_name}: ")
    assert reason in str(info.value)
    assert isinstance(info.value, TomodachiError) and isinstance(info.value, ValueError)


async def test_circular_data_raises_envelope_encode_error() -> None:
    data: list[Any] = []
    data.append(data)
    with pytest.raises(EnvelopeEncodeError, match="Circular reference"):
        await JsonBase.build_message(FakeService(), "t", data)


def test_validate_accepts_anything() -> None:
    assert JsonBase.validate() is None
    assert JsonBase.validate(proto_class=int, anything="goes") is None
