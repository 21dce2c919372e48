"""The protobuf classes of the ProtobufBase envelope, built at import time without protoc.

They are equivalent to compiling ``protobuf/sns_sqs_message.proto``: only field numbers and
types matter on the wire. The descriptor lives in a private pool so that it can never clash
with a generated ``sns_sqs_message_pb2`` a user may have registered in the default pool.

Importing this module imports protobuf (``ImportError`` when it is not installed).
"""

from __future__ import annotations

import importlib
from typing import Any

# protobuf ships no type information and types-protobuf is not a dependency; importing via
# importlib types these modules as Any without ignores that would turn stale with stubs.
_descriptor_pb2: Any = importlib.import_module("google.protobuf.descriptor_pb2")
_descriptor_pool: Any = importlib.import_module("google.protobuf.descriptor_pool")
_message_factory: Any = importlib.import_module("google.protobuf.message_factory")

__all__ = ["FILE_NAME", "DecodeError", "Message", "Metadata", "SNSSQSMessage", "Service"]

FILE_NAME = "tomodachi/sns_sqs_message.proto"

_message: Any = importlib.import_module("google.protobuf.message")
#: The base class of every protobuf message class (for ``isinstance`` checks).
Message: Any = _message.Message
#: Raised by ``ParseFromString`` on malformed bytes (not a ``ValueError``).
DecodeError: Any = _message.DecodeError

_STRING = _descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_DOUBLE = _descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE
_BYTES = _descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_MESSAGE = _descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE

# message name -> [(field name, number, type, message type name or "")]
_MESSAGES: dict[str, list[tuple[str, int, int, str]]] = {
    "Service": [("name", 1, _STRING, ""), ("uuid", 2, _STRING, "")],
    "Metadata": [
        ("message_uuid", 1, _STRING, ""),
        ("protocol_version", 2, _STRING, ""),
        ("timestamp", 3, _DOUBLE, ""),
        ("topic", 4, _STRING, ""),
        ("data_encoding", 5, _STRING, ""),
    ],
    "SNSSQSMessage": [
        ("service", 1, _MESSAGE, ".proto.Service"),
        ("metadata", 2, _MESSAGE, ".proto.Metadata"),
        ("data", 3, _BYTES, ""),
    ],
}


def _build() -> dict[str, Any]:
    """Describe the file, add it to a private pool and return ``{message name: class}``."""
    file = _descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package="proto", syntax="proto3")
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for field_name, number, field_type, type_name in fields:
            field = message.field.add(
                name=field_name,
                number=number,
                type=field_type,
                label=_descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = type_name
    pool = _descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: _message_factory.GetMessageClass(pool.FindMessageTypeByName(f"proto.{name}"))
        for name in _MESSAGES
    }


_CLASSES = _build()
Service: Any = _CLASSES["Service"]
Metadata: Any = _CLASSES["Metadata"]
SNSSQSMessage: Any = _CLASSES["SNSSQSMessage"]
