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
import re
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads"]

_orjson_loads: Callable[[str | bytes], Any] | None
try:
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is an optional extra
    _orjson_loads = None

_LONG_DIGITS_STR = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


# The digit search is slow (about 10 ms per MB) and holds the GIL: a large payload, decoded in a
# thread, is searched in slices, so that the event loop gets the GIL between them. Slices overlap
# by 18 characters so no run of 19 digits is missed.
_SLICE = 256 * 1024
_OVERLAP = 18


def _has_long_digits(s: str | bytes) -> bool:
    pattern = _LONG_DIGITS_STR if isinstance(s, str) else _LONG_DIGITS_BYTES
    for start in range(0, len(s), _SLICE):
        if pattern.search(s, max(0, start - _OVERLAP), start + _SLICE) is not None:  # type: ignore[arg-type]
            return True
    return False


def dumps(obj: Any) -> str:
    """Encode *obj* exactly like ``json.dumps(obj)``; raises ``TypeError``/``ValueError``."""
    return json.dumps(obj)


def loads(s: str | bytes) -> Any:
    """Decode JSON text or UTF-8 bytes, with the stdlib's results; raises ``ValueError``."""
    if _orjson_loads is not None:
        if len(s) <= _SLICE:
            pattern = _LONG_DIGITS_STR if isinstance(s, str) else _LONG_DIGITS_BYTES
            long_number = pattern.search(s) is not None  # type: ignore[arg-type]
        else:
            long_number = _has_long_digits(s)
        if not long_number:
            try:
                return _orjson_loads(s)
            except ValueError:
                pass  # maybe valid for the stdlib (NaN, lone surrogates, UTF-16): let it decide
    return json.loads(s)
