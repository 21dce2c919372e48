"""Bounded decoding: bombs, oversize and garbage payloads, decoding off the event loop.

JsonBase and ProtobufBase raise only ``EnvelopeDecodeError`` (a ``ValueError``) for a payload
they cannot decode, and ``MessageTooLargeError`` (a subclass) past ``max_size``; inflation stops
at the limit, so a bomb costs at most the limit in memory and time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.messaging._bombs import json_base_bomb, protobuf_base_bomb, zlib_bomb
from tomodachi.envelope import (
    DEFAULT_MAX_MESSAGE_SIZE,
    EnvelopeDecodeError,
    JsonBase,
    MessageTooLargeError,
    ProtobufBase,
    _decode,
)
from tomodachi.envelope import _json as json_codec
from tomodachi.envelope import json_base as json_base_module

MiB = 1024 * 1024


def _json_base(data: Any, *, data_encoding: str = "raw") -> str:
    return json.dumps(
        {
            "service": {"name": "s", "uuid": "u"},
            "metadata": {
                "message_uuid": "u.1",
                "timestamp": 1.0,
                "topic": "t",
                "data_encoding": data_encoding,
            },
            "data": data,
        }
    )


# -- the helpers ------------------------------------------------------------------------------
def test_inflate_stops_at_the_limit_without_inflating_the_bomb() -> None:
    stream, inflated = zlib_bomb(500_000)
    assert inflated > 400 * MiB
    started = time.perf_counter()
    with pytest.raises(MessageTooLargeError) as info:
        _decode.inflate(stream, MiB)
    assert time.perf_counter() - started < 0.5  # ~1 MiB of work, not 500 MiB
    assert info.value.limit == MiB and info.value.at_least
    assert "more than 1048576 bytes" in str(info.value)


def test_inflate_under_the_limit_and_corrupt_streams() -> None:
    data = zlib.compress(b"x" * 1000)
    assert _decode.inflate(data, 1000) == b"x" * 1000
    with pytest.raises(MessageTooLargeError):
        _decode.inflate(data, 999)
    with pytest.raises(zlib.error):
        _decode.inflate(data[:-10], 10_000)  # truncated
    with pytest.raises(zlib.error):
        _decode.inflate(b"garbage!", 10_000)


def test_base64_is_refused_by_size_before_decoding() -> None:
    with pytest.raises(MessageTooLargeError) as info:
        _decode.b64decode("A" * 4000, 2999)
    assert info.value.size == 3000
    assert _decode.b64decode(base64.b64encode(b"abc"), 3) == b"abc"


def test_default_limit() -> None:
    assert DEFAULT_MAX_MESSAGE_SIZE == 4 * MiB
    assert issubclass(MessageTooLargeError, EnvelopeDecodeError)
    assert issubclass(EnvelopeDecodeError, ValueError)


# -- JsonBase ---------------------------------------------------------------------------------
@pytest.mark.parametrize("compressed", [500_000, 5_000_000])
async def test_json_base_bombs_are_refused(compressed: int) -> None:
    payload, inflated = json_base_bomb(compressed)
    assert inflated > 400_000_000
    started = time.perf_counter()
    # The default limit refuses the 5 MB form by its size; a larger limit makes it inflate (to the cap).
    for limit in (None, 16 * MiB):
        with pytest.raises(MessageTooLargeError):
            await JsonBase.parse_message(payload, max_size=limit)
    assert time.perf_counter() - started < 2.0


async def test_json_base_oversize_payload_and_limit() -> None:
    payload = _json_base("x" * 2000)
    with pytest.raises(MessageTooLargeError) as info:
        await JsonBase.parse_message(payload, max_size=1000)
    assert (info.value.what, info.value.size, info.value.limit) == ("payload", len(payload), 1000)
    message, _, _ = await JsonBase.parse_message(payload, max_size=len(payload))
    assert message["data"] == "x" * 2000


async def test_json_base_compressed_data_within_the_limit() -> None:
    text = json.dumps(["y" * 100] * 1000)
    data = base64.b64encode(zlib.compress(text.encode())).decode()
    payload = _json_base(data, data_encoding="base64_gzip_json")
    message, _, _ = await JsonBase.parse_message(payload, max_size=len(text))
    assert message["data"] == ["y" * 100] * 1000
    with pytest.raises(MessageTooLargeError) as info:
        await JsonBase.parse_message(payload, max_size=len(text) - 1)
    assert info.value.what == "inflated data"


@pytest.mark.parametrize(
    "data",
    [
        "!!!! not base64 !!!!",
        base64.b64encode(b"not zlib").decode(),
        base64.b64encode(zlib.compress(b'{"a": 1}')[:-6]).decode(),  # truncated
        base64.b64encode(zlib.compress(b"\xff\xfe not utf-8")).decode(),
        base64.b64encode(zlib.compress(b"[" * 100_000)).decode(),  # deeply nested
        base64.b64encode(zlib.compress(b"{not json")).decode(),
        12,
        None,
    ],
)
async def test_json_base_garbage_compressed_data(data: Any) -> None:
    with pytest.raises(EnvelopeDecodeError, match="undecodable base64_gzip_json data"):
        await JsonBase.parse_message(_json_base(data, data_encoding="base64_gzip_json"))


@pytest.mark.parametrize("depth", [2_000, 100_000])
async def test_json_base_deeply_nested_json(depth: int) -> None:
    for payload in ("[" * depth + "]" * depth, _json_base(None)[:-5] + "[" * depth + "]" * depth + "}"):
        with pytest.raises(EnvelopeDecodeError, match="invalid JSON"):
            await JsonBase.parse_message(payload)


async def test_json_base_large_payloads_and_compressed_data_are_decoded_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    real = json_codec.loads

    def loads(s: Any) -> Any:
        threads.append(threading.get_ident())
        return real(s)

    monkeypatch.setattr(json_base_module, "loads", loads)  # what _parse and _decode_compressed call
    loop_thread = threading.get_ident()
    await JsonBase.parse_message(_json_base("small"))
    assert threads == [loop_thread]  # the fast path: inline
    threads.clear()
    await JsonBase.parse_message(_json_base("x" * _decode.OFFLOAD_THRESHOLD))
    assert len(threads) == 1 and threads[0] != loop_thread
    threads.clear()
    compressed = base64.b64encode(zlib.compress(json.dumps("z" * 70_000).encode())).decode()
    await JsonBase.parse_message(_json_base(compressed, data_encoding="base64_gzip_json"))
    assert threads[0] == loop_thread and threads[1] != loop_thread  # the envelope inline, the data not


async def test_json_base_bomb_does_not_stall_the_loop() -> None:
    payload, _ = json_base_bomb(500_000)
    stall = 0.0
    done = False

    async def ticker() -> None:
        nonlocal stall
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0)
            stall = max(stall, time.perf_counter() - before)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    with pytest.raises(MessageTooLargeError):
        await JsonBase.parse_message(payload, max_size=64 * MiB)  # inflates 64 MiB, in a thread
    done = True
    await task
    assert stall < 0.05


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
async def test_json_base_arbitrary_input_raises_only_the_documented_error(payload: Any) -> None:
    try:
        await JsonBase.parse_message(payload, max_size=200)
    except EnvelopeDecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.binary(max_size=300), st.text(max_size=300), st.integers(), st.none()),
    st.sampled_from(["base64_gzip_json", "raw", "other"]),
)
async def test_json_base_arbitrary_data_field_raises_only_the_documented_error(
    data: Any, encoding: str
) -> None:
    if isinstance(data, bytes):
        data = base64.b64encode(data).decode()  # valid base64, garbage zlib
    try:
        await JsonBase.parse_message(_json_base(data, data_encoding=encoding))
    except EnvelopeDecodeError:
        pass


# -- ProtobufBase -----------------------------------------------------------------------------
pb = pytest.importorskip("tomodachi.envelope._sns_sqs_message")


@pytest.mark.parametrize("compressed", [500_000, 5_000_000])
async def test_protobuf_base_bombs_are_refused(compressed: int) -> None:
    payload = protobuf_base_bomb(compressed)
    started = time.perf_counter()
    for limit in (None, 16 * MiB):
        with pytest.raises(MessageTooLargeError):
            await ProtobufBase.parse_message(payload, proto_class=pb.Service, max_size=limit)
    assert time.perf_counter() - started < 2.0


async def test_protobuf_base_oversize_payload() -> None:
    with pytest.raises(MessageTooLargeError) as info:
        await ProtobufBase.parse_message("A" * 2000, proto_class=pb.Service, max_size=1000)
    assert info.value.what == "payload"


def _pb_payload(data_encoding: str, data: bytes) -> str:
    envelope = pb.SNSSQSMessage(metadata=pb.Metadata(data_encoding=data_encoding), data=data)
    return base64.b64encode(envelope.SerializeToString()).decode()


@pytest.mark.parametrize(
    "payload",
    [
        "%%% not base64",
        base64.b64encode(b"\xff\xff\xff garbage").decode(),
        _pb_payload("gzip_proto", b"not zlib"),
        _pb_payload("gzip_proto", zlib.compress(b"\x0a\x03abc")[:-5]),  # truncated
        _pb_payload("base64_gzip_proto", b"%%%"),
        _pb_payload("proto", b"\xff\xff\xff"),
        _pb_payload("nope", b""),
    ],
)
async def test_protobuf_base_garbage(payload: str) -> None:
    with pytest.raises(EnvelopeDecodeError, match="not a ProtobufBase message"):
        await ProtobufBase.parse_message(payload, proto_class=pb.Service)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
async def test_protobuf_base_arbitrary_input_raises_only_the_documented_error(payload: Any) -> None:
    try:
        await ProtobufBase.parse_message(payload, proto_class=pb.Service, max_size=200)
    except EnvelopeDecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["gzip_proto", "base64_gzip_proto", "base64", "proto", ""]))
async def test_protobuf_base_arbitrary_data_raises_only_the_documented_error(
    data: bytes, encoding: str
) -> None:
    envelope = pb.SNSSQSMessage(metadata=pb.Metadata(message_uuid="u", data_encoding=encoding), data=data)
    try:
        await ProtobufBase.parse_message(
            base64.b64encode(envelope.SerializeToString()).decode(), proto_class=pb.Service
        )
    except EnvelopeDecodeError:
        pass


# -- large payloads are worked on in slices (the GIL is released between them) ----------------
@pytest.mark.parametrize("offset", [0, 5, 18, 19, 256 * 1024 - 10, 256 * 1024 - 19, 256 * 1024, 600_000])
def test_long_digit_runs_are_found_across_slices(offset: int) -> None:
    big = 10**25  # beyond 64 bits: decoded by the stdlib, exactly
    text = json.dumps({"pad": " " * offset, "n": big, "tail": "x" * 300_000})
    assert json_codec.loads(text)["n"] == big
    assert json_codec.loads(text.encode())["n"] == big


@pytest.mark.parametrize("size", [300_000, 1_000_001])
def test_large_base64_is_decoded_in_slices_like_the_stdlib(size: int) -> None:
    raw = bytes(range(256)) * (size // 256)
    assert _decode.b64decode(base64.b64encode(raw).decode(), 10 * MiB) == raw
    with_newlines = base64.encodebytes(raw)  # not strict: decoded leniently, as before
    assert _decode.b64decode(with_newlines, 10 * MiB) == raw
