"""JSON encoding for envelopes: stdlib output, orjson speed for decoding when installed.

``dumps`` always uses the stdlib with its default settings (``", "`` and ``": "`` separators,
``ensure_ascii=True``, ``NaN`` allowed). That output is the wire format peers expect and
compare byte for byte; orjson writes compact, non-ASCII output and rejects ``NaN``, so it is
not used for encoding.

``loads`` prefers orjson, which is several times faster, but hands over to the stdlib whenever
orjson could disagree with it: orjson rejects ``NaN``/``Infinity``, lone surrogates and
out-of-range floats (the stdlib accepts them), and it silently turns integers beyond 64 bits
into floats. Such numbers are long digit runs, so a payload containing 19 or more digits in a
row is decoded by the stdlib (Python never writes floats that way, so this is rare).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads"]

_orjson_loads: Callable[[str | bytes], Any] | None
try:
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is an optional extra
    _orjson_loads = None

# The digit-run check: every byte mapped to b"0", ASCII digits to b"1", then one substring search
# for 19 b"1"s. About 0.4 µs for a small JsonBase message (a regex search for \d{19} took 3 µs, more
# than the stdlib decoding it was saving). JSON numbers are ASCII digits only, so other scripts'
# digits never matter.
_DIGITS = bytes(0x31 if 0x30 <= i <= 0x39 else 0x30 for i in range(256))
_RUN = b"1" * 19


# A large payload, decoded in a thread, is checked in slices, so that the event loop gets the GIL
# between them. Slices overlap by 18 characters so no run of 19 digits is missed.
_SLICE = 256 * 1024
_OVERLAP = 18


def _has_long_digits(s: str | bytes) -> bool:
    data = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
    if len(data) <= _SLICE:
        return _RUN in data.translate(_DIGITS)
    for start in range(0, len(data), _SLICE):
        if _RUN in data[max(0, start - _OVERLAP) : start + _SLICE].translate(_DIGITS):
            return True
    return False


def dumps(obj: Any) -> str:
    """Encode *obj* exactly like ``json.dumps(obj)``; raises ``TypeError``/``ValueError``."""
    return json.dumps(obj)


def loads(s: str | bytes) -> Any:
    """Decode JSON text or UTF-8 bytes, with the stdlib's results; raises ``ValueError``."""
    if _orjson_loads is not None:
        if not _has_long_digits(s):
            try:
                return _orjson_loads(s)
            except ValueError:
                pass  # maybe valid for the stdlib (NaN, lone surrogates, UTF-16): let it decide
    return json.loads(s)
