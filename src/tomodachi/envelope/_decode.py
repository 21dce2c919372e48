"""Bounded decoding helpers for the built-in envelopes.

Untrusted payloads are decoded with a cap on every size that can grow: base64 input is checked
before it is decoded, and zlib data is inflated with ``decompressobj().decompress(data,
max_length)``, which stops once the output reaches the cap, so a bomb is never inflated fully.
Decoding work that can take more than a few milliseconds runs in the event loop's default
executor (a bounded thread pool), so the loop stays responsive; small payloads stay inline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import zlib
from collections.abc import Callable
from typing import TypeVar

from tomodachi.envelope import MessageTooLargeError

__all__ = ["OFFLOAD_THRESHOLD", "b64decode", "inflate", "off_loop"]

T = TypeVar("T")

#: Payloads (and compressed data) of at least this many bytes or characters are decoded off the
#: event loop. Below it, decoding takes well under a millisecond and a thread hop would cost more.
OFFLOAD_THRESHOLD = 64 * 1024
_CHUNK = 256 * 1024


def b64decode(data: str | bytes, limit: int, what: str = "base64 data") -> bytes:
    """``base64.b64decode(data)``, refused before decoding when the result would exceed *limit*."""
    decoded_size = len(data) * 3 // 4
    if decoded_size > limit:
        raise MessageTooLargeError(what, decoded_size, limit)
    if len(data) > _CHUNK:
        try:
            # Strict base64 (what every sender writes) in slices, so that a thread decoding a
            # large payload lets the event loop have the GIL between them.
            return b"".join(
                binascii.a2b_base64(data[i : i + _CHUNK], strict_mode=True)
                for i in range(0, len(data), _CHUNK)
            )
        except (binascii.Error, ValueError):
            pass  # not strict (line breaks, no padding, ...): decoded leniently, as a whole
    return base64.b64decode(data)


def inflate(data: bytes, limit: int, what: str = "inflated data") -> bytes:
    """``zlib.decompress(data)``, stopping as soon as the output exceeds *limit* bytes.

    Inflated in chunks of 256 KiB (``decompressobj().decompress(data, max_length)``): the work
    done is bounded by the limit, and each call holds the GIL only briefly, so a thread inflating
    a bomb does not stall the event loop. Raises :class:`MessageTooLargeError` over the limit
    and ``zlib.error`` for corrupt or truncated data.
    """
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    tail = data
    while not inflater.eof:
        chunk = inflater.decompress(tail, _CHUNK)
        tail = inflater.unconsumed_tail
        if not chunk and not tail:
            break  # the input is used up before the end of the stream
        size += len(chunk)
        if size > limit:
            raise MessageTooLargeError(what, size, limit, at_least=True)
        parts.append(chunk)
    if not inflater.eof:
        raise zlib.error("incomplete or truncated zlib stream")
    return b"".join(parts)


async def off_loop(size: int, func: Callable[..., T], *args: object) -> T:
    """``func(*args)``, in the loop's default executor when *size* is at least the threshold."""
    if size < OFFLOAD_THRESHOLD:
        return func(*args)
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)
