"""Message envelopes: how messaging transports wrap a handler's data on the wire.

An envelope is any object (usually a class) with two async methods:

- ``build_message(service, topic, data, **kwargs) -> str``: wrap *data* for publishing;
- ``parse_message(payload, **kwargs) -> (message, message_uuid, timestamp)``: unwrap a
  received payload; ``message["data"]`` is what the handler receives.

:class:`MessageEnvelope` describes that shape. The built-in envelopes, :class:`JsonBase` and
:class:`ProtobufBase`, are imported on first use so that ``import tomodachi.envelope`` stays
cheap and never imports protobuf.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tomodachi.errors import TomodachiError

if TYPE_CHECKING:
    from tomodachi.envelope import json_base, protobuf_base
    from tomodachi.envelope.json_base import JsonBase
    from tomodachi.envelope.protobuf_base import ProtobufBase

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "EnvelopeDecodeError",
    "EnvelopeEncodeError",
    "JsonBase",
    "MessageEnvelope",
    "MessageTooLargeError",
    "ProtobufBase",
    "json_base",
    "protobuf_base",
]


#: The default of the ``max_message_size`` option: the largest payload, and the largest decoded
#: (inflated) data, a message handler accepts, in bytes (characters for a text payload).
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024


class EnvelopeEncodeError(TomodachiError, ValueError):
    """``build_message`` was given data the envelope cannot encode (e.g. a ``set`` for JsonBase)."""


class EnvelopeDecodeError(TomodachiError, ValueError):
    """``parse_message`` of a built-in envelope was given a payload it cannot decode.

    The only error :class:`JsonBase` and :class:`ProtobufBase` raise for a bad payload (a
    ``ValueError``, as before); the message is settled as undecodable.
    """


class MessageTooLargeError(EnvelopeDecodeError):
    """A payload, or the data decoded from it, is larger than ``max_message_size``.

    ``what`` names the part (``"payload"``, ``"inflated data"``, ...), ``size`` its size in bytes
    (a lower bound when ``at_least``: inflation stops just past the limit) and ``limit`` the cap.
    """

    def __init__(self, what: str, size: int, limit: int, *, at_least: bool = False) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        self.at_least = at_least
        amount = f"more than {limit}" if at_least else f"{size}"
        super().__init__(f"{what} too large: {amount} bytes, the limit is {limit} (max_message_size)")


@runtime_checkable
class MessageEnvelope(Protocol):
    """The shape of a message envelope; the built-in envelope classes satisfy it as classes.

    ``parse_message`` returns ``(message, message_uuid, timestamp)`` where ``message`` is
    normally a dict with ``"service"``, ``"metadata"`` and ``"data"`` keys. Both methods may
    receive extra keyword arguments (decorator options) and should ignore the ones they do
    not use.
    """

    def build_message(self, service: Any, topic: str, data: Any, **kwargs: Any) -> Awaitable[str]:
        """Wrap *data*, published by *service* to *topic*, into a payload string."""
        ...

    def parse_message(
        self, payload: Any, **kwargs: Any
    ) -> Awaitable[tuple[Any, str | None, float | int | None]]:
        """Unwrap a received *payload* into ``(message, message_uuid, timestamp)``."""
        ...


# Name -> module. A module maps to itself (``tomodachi.envelope.json_base``).
_LAZY: dict[str, str] = {
    "JsonBase": "tomodachi.envelope.json_base",
    "ProtobufBase": "tomodachi.envelope.protobuf_base",
    "json_base": "tomodachi.envelope.json_base",
    "protobuf_base": "tomodachi.envelope.protobuf_base",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value
