"""``ProtobufBase``: the protobuf message envelope (protocol ``tomodachi-protobuf-base--1.0.0``).

A payload is ``base64(SNSSQSMessage)`` (see ``protobuf/sns_sqs_message.proto``); its ``data``
field holds the serialized user message, zlib-compressed (``"gzip_proto"``) when it is 60000
bytes or longer, else as is (``"proto"``). Receivers name the message class with the
``proto_class`` decorator option and may pass a ``validator``.

protobuf is optional: this module imports it on first use, and without it every method
raises :class:`~tomodachi.errors.TomodachiError` telling how to install it.
"""

from __future__ import annotations

import base64
import time
import uuid
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from tomodachi.envelope import (
    DEFAULT_MAX_MESSAGE_SIZE,
    EnvelopeDecodeError,
    EnvelopeEncodeError,
    MessageTooLargeError,
)
from tomodachi.envelope._decode import b64decode, inflate, off_loop
from tomodachi.errors import ConfigurationError, TomodachiError

if TYPE_CHECKING:
    from tomodachi.envelope._sns_sqs_message import SNSSQSMessage

__all__ = ["COMPRESS_THRESHOLD", "PROTOCOL_VERSION", "ProtobufBase", "SNSSQSMessage"]

PROTOCOL_VERSION = "tomodachi-protobuf-base--1.0.0"
#: Serialized data of at least this many bytes is sent compressed.
COMPRESS_THRESHOLD = 60000


def _messages() -> ModuleType:
    """The module holding the envelope's protobuf classes, importing protobuf on first use."""
    try:
        from tomodachi.envelope import _sns_sqs_message
    except ImportError as exc:
        raise TomodachiError(
            f'ProtobufBase needs the protobuf package ({exc}): pip install "tomodachi[protobuf]"'
        ) from exc
    return _sns_sqs_message


def __getattr__(name: str) -> Any:
    # SNSSQSMessage is resolved on access so that importing this module does not need protobuf.
    if name == "SNSSQSMessage":
        return _messages().SNSSQSMessage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_message_class(value: Any, message_base: type) -> bool:
    return isinstance(value, type) and issubclass(value, message_base)


# data_encoding -> how to get the serialized user message back from ``data`` (with the size
# limit). "base64", "base64_gzip_proto" and "raw" are deprecated (older senders) but still read;
# "" means the sender did not set it, and is read as plain bytes.
_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "proto": lambda data, limit: data,
    "gzip_proto": inflate,
    "base64": b64decode,
    "base64_gzip_proto": lambda data, limit: inflate(b64decode(data, limit), limit),
    "raw": lambda data, limit: data,
    "": lambda data, limit: data,
}
_COMPRESSED = frozenset({"gzip_proto", "base64_gzip_proto"})


class ProtobufBase:
    """The protobuf envelope; use the class itself: ``message_envelope=ProtobufBase``."""

    @classmethod
    async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
        """Wrap the protobuf message *data* into a base64 payload.

        Raises :class:`EnvelopeEncodeError` when *data* is not a protobuf message instance or
        cannot be serialized. Extra keyword arguments are accepted and ignored.
        """
        messages = _messages()
        if not isinstance(data, messages.Message):
            raise EnvelopeEncodeError(
                f"{cls.__name__} cannot encode data of type {type(data).__name__}: "
                "expected a protobuf message instance"
            )
        try:
            data_bytes: bytes = data.SerializeToString()
        except Exception as exc:  # protobuf's EncodeError (e.g. proto2 required fields unset)
            raise EnvelopeEncodeError(
                f"{cls.__name__} cannot encode data of type {type(data).__name__}: {exc}"
            ) from exc
        data_encoding = "proto"
        if len(data_bytes) >= COMPRESS_THRESHOLD:
            data_bytes, data_encoding = zlib.compress(data_bytes), "gzip_proto"

        service_uuid = str(getattr(service, "uuid", "") or "")
        message = messages.SNSSQSMessage(
            service=messages.Service(name=str(getattr(service, "name", "") or ""), uuid=service_uuid),
            metadata=messages.Metadata(
                message_uuid=f"{service_uuid}.{uuid.uuid4()}",
                protocol_version=PROTOCOL_VERSION,
                timestamp=time.time(),
                topic=topic,
                data_encoding=data_encoding,
            ),
            data=data_bytes,
        )
        return base64.b64encode(message.SerializeToString()).decode("ascii")

    @classmethod
    async def parse_message(
        cls,
        payload: str | bytes,
        proto_class: Any = None,
        validator: Any = None,
        *,
        max_size: int | None = None,
        **kwargs: Any,
    ) -> tuple[dict[str, Any], str, float]:
        """Unwrap a base64 payload into ``(message, message_uuid, timestamp)``.

        ``message["data"]`` is an instance of *proto_class* (required). *validator*, a
        function or staticmethod, is called with it and raises to reject the message.
        Undecodable payloads raise :class:`~tomodachi.envelope.EnvelopeDecodeError` (a
        ``ValueError``); a payload, or data, larger than *max_size* (default
        :data:`~tomodachi.envelope.DEFAULT_MAX_MESSAGE_SIZE`) raises
        :class:`~tomodachi.envelope.MessageTooLargeError` (a subclass). Large payloads and
        compressed data are decoded off the event loop.
        """
        messages = _messages()
        if proto_class is None:
            raise ValueError(f"{cls.__name__}.parse_message needs proto_class (the protobuf message class)")
        limit = DEFAULT_MAX_MESSAGE_SIZE if max_size is None else max_size
        if not isinstance(payload, (str, bytes, bytearray)):
            raise EnvelopeDecodeError(f"not a ProtobufBase message: payload of type {type(payload).__name__}")
        if len(payload) > limit:
            raise MessageTooLargeError("payload", len(payload), limit)
        envelope = await off_loop(len(payload), _parse_envelope, messages, payload, limit)
        metadata = envelope.metadata
        work = limit if metadata.data_encoding in _COMPRESSED else len(envelope.data)
        data = await off_loop(work, _parse_data, messages, envelope, proto_class, limit)

        if validator is not None:
            # A validator defined in the service class body arrives as a staticmethod object.
            func = validator.__func__ if isinstance(validator, staticmethod) else validator
            func(data)

        parsed = {
            "service": {"name": envelope.service.name, "uuid": envelope.service.uuid},
            "metadata": {
                "message_uuid": metadata.message_uuid,
                "protocol_version": metadata.protocol_version,
                "timestamp": metadata.timestamp,
                "topic": metadata.topic,
                "data_encoding": metadata.data_encoding,
            },
            "data": data,
        }
        return parsed, metadata.message_uuid, metadata.timestamp

    @classmethod
    def validate(cls, proto_class: Any = None, validator: Any = None, **kwargs: Any) -> None:
        """Check decorator options (synchronous, called at start-up).

        ``proto_class`` must be a protobuf message class and ``validator``, if given, callable;
        raises :class:`ConfigurationError` otherwise.
        """
        messages = _messages()
        if proto_class is None:
            raise ConfigurationError(
                f"{cls.__name__} needs proto_class=<protobuf message class> on the handler decorator"
            )
        if not _is_message_class(proto_class, messages.Message):
            raise ConfigurationError(
                f"{cls.__name__}: proto_class must be a protobuf message class, got {proto_class!r}"
            )
        if validator is not None and not isinstance(validator, staticmethod) and not callable(validator):
            raise ConfigurationError(f"{cls.__name__}: validator must be callable, got {validator!r}")


def _parse_envelope(messages: ModuleType, payload: str | bytes, limit: int) -> SNSSQSMessage:
    try:
        envelope = messages.SNSSQSMessage()
        envelope.ParseFromString(b64decode(payload, limit, "payload"))
    except MessageTooLargeError:
        raise
    except (TypeError, ValueError, messages.DecodeError) as exc:  # ValueError: bad base64
        raise EnvelopeDecodeError(f"not a ProtobufBase message: {exc}") from None
    if not envelope.HasField("metadata"):
        raise EnvelopeDecodeError("not a ProtobufBase message: no metadata")
    if envelope.metadata.data_encoding not in _DECODERS:
        raise EnvelopeDecodeError(
            f"not a ProtobufBase message: unknown data_encoding {envelope.metadata.data_encoding!r}"
        )
    return cast("SNSSQSMessage", envelope)


def _parse_data(messages: ModuleType, envelope: SNSSQSMessage, proto_class: Any, limit: int) -> Any:
    data_encoding = envelope.metadata.data_encoding
    try:
        data = proto_class()
        data.ParseFromString(_DECODERS[data_encoding](envelope.data, limit))
    except MessageTooLargeError:
        raise
    except (TypeError, ValueError, RecursionError, zlib.error, messages.DecodeError) as exc:
        raise EnvelopeDecodeError(
            f"not a ProtobufBase message: undecodable {data_encoding or 'proto'} data "
            f"for {getattr(proto_class, '__name__', proto_class)} ({exc})"
        ) from None
    return data
