"""AMQP names exactly as the original library makes them, so fleets can mix both.

- Routing keys: characters outside printable ASCII (and spaces) are hex-encoded as
  ``___<hex>_``; everything else, including the topic wildcards ``*`` and ``#``, is kept.
- Auto queue names: ``sha256(encoded_routing_key + function_name + service_uuid)`` for a queue
  per service instance, ``sha256(encoded_routing_key)`` for competing consumers, prefixed with
  ``amqp.queue_name_prefix``. An explicit ``queue_name`` is prefixed and implies competing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["decode_routing_key", "default_exchange", "encode_routing_key", "queue_name"]

_KEEP = frozenset(chr(c) for c in range(0x21, 0x7F))
_ENCODED = re.compile(r"___([0-9a-f]+)_")


def encode_routing_key(routing_key: str) -> str:
    # Fast path (C string methods): printable ASCII without spaces is kept as it is.
    if routing_key.isascii() and routing_key.isprintable() and " " not in routing_key:
        return routing_key
    return "".join(ch if ch in _KEEP else f"___{ord(ch):x}_" for ch in routing_key)


def decode_routing_key(encoded: str) -> str:
    if "___" not in encoded:
        return encoded
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), encoded)


def queue_name(
    routing_key: str,
    func_name: str,
    service_uuid: str,
    *,
    competing: bool | None,
    explicit_name: str | None = None,
    prefix: str = "",
    routing_key_prefix: str = "",
) -> str:
    """The queue a handler consumes from (see the module docstring)."""
    if explicit_name:
        return prefix + explicit_name
    encoded = encode_routing_key(routing_key_prefix + routing_key)
    source = encoded if competing else encoded + func_name + service_uuid
    return prefix + hashlib.sha256(source.encode("utf-8")).hexdigest()


def default_exchange(service: Any, exchange_name: str = "") -> str:
    """The exchange of a handler or a publish: *exchange_name*, ``amqp.exchange_name`` or ``amq.topic``."""
    return exchange_name or service.options.amqp.exchange_name or "amq.topic"
