"""Decompression bombs for the fault suite, built in milliseconds.

A zlib stream of ``"aaa...a"`` (a JSON string) is made of one deflate unit repeated: with a full
flush after every 1 MiB block the compressor's state resets, so every block compresses to the same
bytes, and the Adler-32 trailer of the whole run has a closed form. So a 5 MB bomb that inflates
to about 5 GB costs one 1 MiB compression and a bytes multiplication, not 5 GB of work.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

__all__ = ["json_base_bomb", "protobuf_base_bomb", "zlib_bomb"]

_BLOCK = 1 << 20
_MOD = 65521


def _adler_run(adler: int, count: int, byte: int) -> int:
    """``zlib.adler32(bytes([byte]) * count, adler)`` without the bytes."""
    a, b = adler & 0xFFFF, adler >> 16
    b = (b + count * a + byte * count * (count + 1) // 2) % _MOD
    a = (a + count * byte) % _MOD
    return (b << 16) | a


def zlib_bomb(compressed_size: int) -> tuple[bytes, int]:
    """A valid zlib stream of about *compressed_size* bytes, and its inflated size.

    It inflates to the JSON text ``"aaa...a"``, about 1000 times as large.
    """
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = raw.compress(b'"') + raw.flush(zlib.Z_FULL_FLUSH)
    block = b"a" * _BLOCK
    unit = raw.compress(block) + raw.flush(zlib.Z_FULL_FLUSH)
    assert raw.compress(block) + raw.flush(zlib.Z_FULL_FLUSH) == unit  # the state resets
    count = max(1, compressed_size // len(unit))
    # The last block repeats the unit's bytes; then the closing quote and the final block.
    tail = raw.compress(block) + raw.flush(zlib.Z_FULL_FLUSH)
    assert tail == unit
    end = raw.compress(b'"') + raw.flush(zlib.Z_FINISH)
    runs = count + 1
    adler = zlib.adler32(b'"')
    adler = _adler_run(adler, runs * _BLOCK, ord("a"))
    adler = zlib.adler32(b'"', adler)
    stream = b"\x78\xda" + head + unit * runs + end + adler.to_bytes(4, "big")
    return stream, runs * _BLOCK + 2


def json_base_bomb(compressed_size: int, message_uuid: str = "bomb.1") -> tuple[str, int]:
    """A JsonBase message whose ``base64_gzip_json`` data inflates about 1000-fold."""
    stream, inflated = zlib_bomb(compressed_size)
    message: dict[str, Any] = {
        "service": {"name": "bomber", "uuid": "bomb"},
        "metadata": {
            "message_uuid": message_uuid,
            "protocol_version": "tomodachi-json-base--1.0.0",
            "compatible_protocol_versions": ["json_base-wip"],
            "timestamp": 1.0,
            "topic": "bomb",
            "data_encoding": "base64_gzip_json",
        },
        "data": base64.b64encode(stream).decode("ascii"),
    }
    return json.dumps(message), inflated


def protobuf_base_bomb(compressed_size: int) -> str:
    """A ProtobufBase payload whose ``gzip_proto`` data inflates about 1000-fold."""
    from tomodachi.envelope._sns_sqs_message import Metadata, Service, SNSSQSMessage

    stream, _ = zlib_bomb(compressed_size)
    message = SNSSQSMessage(
        service=Service(name="bomber", uuid="bomb"),
        metadata=Metadata(
            message_uuid="bomb.1",
            protocol_version="tomodachi-protobuf-base--1.0.0",
            timestamp=1.0,
            topic="bomb",
            data_encoding="gzip_proto",
        ),
        data=stream,
    )
    return base64.b64encode(message.SerializeToString()).decode("ascii")
