"""``JsonBase``: the JSON message envelope (protocol ``tomodachi-json-base--1.0.0``).

A payload is one JSON object, written with the stdlib's default separators::

    {"service": {"name": ..., "uuid": ...},
     "metadata": {"message_uuid": "<service uuid>.<uuid4>",
                  "protocol_version": "tomodachi-json-base--1.0.0",
                  "compatible_protocol_versions": ["json_base-wip"],
                  "timestamp": <time.time()>, "topic": ..., "data_encoding": "raw"},
     "data": <data>}

Data whose JSON text is 60000 characters or longer is zlib-compressed, base64-encoded and
stored as a string with ``"data_encoding": "base64_gzip_json"``, which keeps messages within
the size limits of brokers such as SNS/SQS (256 KiB).
"""

from __future__ import annotations

import base64
import time
import uuid
import zlib
from typing import Any

from tomodachi.envelope import (
    DEFAULT_MAX_MESSAGE_SIZE,
    EnvelopeDecodeError,
    EnvelopeEncodeError,
    MessageTooLargeError,
)
from tomodachi.envelope._decode import OFFLOAD_THRESHOLD, b64decode, inflate, off_loop
from tomodachi.envelope._json import dumps, loads

__all__ = ["COMPRESS_THRESHOLD", "PROTOCOL_VERSION", "JsonBase"]

PROTOCOL_VERSION = "tomodachi-json-base--1.0.0"
#: Data whose JSON text has at least this many characters is sent compressed.
COMPRESS_THRESHOLD = 60000

_COMPATIBLE_PROTOCOL_VERSIONS = ["json_base-wip"]
_METADATA_KEYS = ("message_uuid", "protocol_version", "timestamp", "topic", "data_encoding")


class JsonBase:
    """The JSON envelope; use the class itself: ``message_envelope=JsonBase``."""

    @classmethod
    async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
        """Wrap *data* into a JSON payload; raises :class:`EnvelopeEncodeError` if it is not JSON.

        Extra keyword arguments (such as ``message_attributes``) are accepted and ignored.
        """
        try:
            data_json = dumps(data)
        except (TypeError, ValueError, RecursionError) as exc:
            raise EnvelopeEncodeError(
                f"{cls.__name__} cannot encode data of type {type(data).__name__}: {exc}"
            ) from exc
        data_encoding = "raw"
        if len(data_json) >= COMPRESS_THRESHOLD:
            data_encoding = "base64_gzip_json"
            data_json = dumps(base64.b64encode(zlib.compress(data_json.encode("utf-8"))).decode("utf-8"))

        service_uuid = getattr(service, "uuid", "")
        head = {
            "service": {"name": getattr(service, "name", ""), "uuid": service_uuid},
            "metadata": {
                "message_uuid": f"{service_uuid}.{uuid.uuid4()}",
                "protocol_version": PROTOCOL_VERSION,
                "compatible_protocol_versions": _COMPATIBLE_PROTOCOL_VERSIONS,
                "timestamp": time.time(),
                "topic": topic,
                "data_encoding": data_encoding,
            },
        }
        # The data is already encoded (its length decides compression), so it is spliced in
        # rather than encoded twice. json.dumps writes a dict as "{" + ", ".join('"k": v') + "}",
        # so this is exactly json.dumps({**head, "data": data}).
        return f'{dumps(head)[:-1]}, "data": {data_json}}}'

    @classmethod
    async def parse_message(
        cls, payload: str | bytes, *, max_size: int | None = None, **kwargs: Any
    ) -> tuple[dict[str, Any], str, float]:
        """Unwrap a JSON payload into ``(message, message_uuid, timestamp)``.

        ``message`` holds ``service`` (name, uuid), ``metadata`` (message_uuid,
        protocol_version, timestamp, topic, data_encoding) and the decoded ``data``. A payload
        that is not a JsonBase message raises :class:`~tomodachi.envelope.EnvelopeDecodeError`
        (a ``ValueError``); one larger than *max_size* (default
        :data:`~tomodachi.envelope.DEFAULT_MAX_MESSAGE_SIZE`), or whose compressed data inflates
        past it, raises :class:`~tomodachi.envelope.MessageTooLargeError` (a subclass). Large
        payloads and compressed data are decoded off the event loop.
        """
        limit = DEFAULT_MAX_MESSAGE_SIZE if max_size is None else max_size
        if not isinstance(payload, (str, bytes, bytearray)):
            raise EnvelopeDecodeError(f"not a JsonBase message: payload of type {type(payload).__name__}")
        size = len(payload)
        if size > limit:
            raise MessageTooLargeError("payload", size, limit)
        if size < OFFLOAD_THRESHOLD:  # the fast path, inline (no helper coroutine)
            parsed, message_uuid, timestamp = _parse(payload)
        else:
            parsed, message_uuid, timestamp = await off_loop(size, _parse, payload)
        if parsed["metadata"]["data_encoding"] == "base64_gzip_json":
            # The inflated size is unknown until inflated (up to the limit): always off the loop
            # unless the limit itself is small.
            parsed["data"] = await off_loop(limit, _decode_compressed, parsed["data"], limit)
        return parsed, message_uuid, timestamp

    @classmethod
    def validate(cls, **kwargs: Any) -> None:
        """Check decorator options (synchronous, called at start-up); JsonBase accepts any."""


def _parse(payload: str | bytes) -> tuple[dict[str, Any], Any, Any]:
    try:
        message = loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise EnvelopeDecodeError(f"not a JsonBase message: invalid JSON ({exc})") from None
    if not isinstance(message, dict):
        raise EnvelopeDecodeError(f"not a JsonBase message: a JSON {type(message).__name__}, not an object")
    service, metadata = message.get("service"), message.get("metadata")
    if not isinstance(service, dict) or not isinstance(metadata, dict) or "data" not in message:
        raise EnvelopeDecodeError("not a JsonBase message: 'service', 'metadata' and 'data' are required")
    missing = [key for key in ("message_uuid", "timestamp") if key not in metadata]
    if missing:
        raise EnvelopeDecodeError(f"not a JsonBase message: metadata lacks {', '.join(missing)}")

    data_encoding = metadata.get("data_encoding", "raw")
    data = message["data"]
    if data_encoding == "base64_gzip_json":
        if not isinstance(data, str):
            raise EnvelopeDecodeError(
                "not a JsonBase message: undecodable base64_gzip_json data (not a string)"
            )
    elif data_encoding != "raw":
        raise EnvelopeDecodeError(f"not a JsonBase message: unknown data_encoding {data_encoding!r}")

    parsed_metadata = {key: metadata.get(key) for key in _METADATA_KEYS}
    parsed_metadata["data_encoding"] = data_encoding
    parsed = {
        "service": {"name": service.get("name"), "uuid": service.get("uuid")},
        "metadata": parsed_metadata,
        "data": data,
    }
    return parsed, metadata["message_uuid"], metadata["timestamp"]


def _decode_compressed(data: str, limit: int) -> Any:
    try:
        return loads(inflate(b64decode(data, limit), limit).decode("utf-8"))
    except MessageTooLargeError:
        raise
    except (TypeError, ValueError, RecursionError, zlib.error) as exc:
        raise EnvelopeDecodeError(
            f"not a JsonBase message: undecodable base64_gzip_json data ({exc})"
        ) from None
