"""``validate_field_regex`` and ``validate_field_length``: check a value, raise when it is invalid.

Both return ``None`` when the value is valid and raise a :class:`FieldValidationError` subclass
otherwise, so a handler can validate several fields and turn any failure into one response::

    try:
        validate_field_regex(data["id"], r"^[0-9a-f]{32}$")
        validate_field_length(data["tags"], max_length=10)
    except FieldValidationError as exc:
        return 400, str(exc)
"""

from __future__ import annotations

import re
from typing import Any

from tomodachi.errors import TomodachiError

__all__ = [
    "FieldValidationError",
    "RegexMismatchException",
    "RegexMissmatchException",
    "TooLargeException",
    "TooSmallException",
    "validate_field_length",
    "validate_field_regex",
]

_SHOWN = 80  # characters of a value quoted in a message: enough to recognise it, never a wall


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:  # raised by user code with a value that has no length
        return None


class FieldValidationError(TomodachiError, ValueError):
    """Base of the validation errors: a field value is not acceptable."""


class RegexMissmatchException(FieldValidationError):
    """The value does not match the pattern (the original's spelling, kept for imports)."""

    def __init__(self, value: Any = None, pattern: str | bytes | re.Pattern[Any] = "") -> None:
        self.value = value
        self.pattern = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        super().__init__(f"value {_show(value)} does not match the pattern {self.pattern!r}")


#: The same class, correctly spelled.
RegexMismatchException = RegexMissmatchException


class TooSmallException(FieldValidationError):
    """The value has fewer than ``min_length`` items (characters for a string)."""

    def __init__(self, value: Any = None, min_length: int = -1) -> None:
        self.value = value
        self.length = _length(value)
        self.min_length = min_length
        super().__init__(f"length {self.length} of {_show(value)} is less than the minimum {min_length}")


class TooLargeException(FieldValidationError):
    """The value has more than ``max_length`` items (characters for a string)."""

    def __init__(self, value: Any = None, max_length: int = -1) -> None:
        self.value = value
        self.length = _length(value)
        self.max_length = max_length
        super().__init__(f"length {self.length} of {_show(value)} is more than the maximum {max_length}")


def validate_field_regex(value: Any, pattern_str: str | bytes | re.Pattern[Any]) -> None:
    """Raise :class:`RegexMissmatchException` unless *value* matches *pattern_str*.

    Matching is :func:`re.match`: the pattern must match at the start of the value, so anchor
    its end with ``$`` (or ``\\Z``) to require the whole value, as in
    ``r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"``. A compiled pattern is
    accepted too. A value that is not a string (``None``, a number) does not match; ``bytes``
    match a ``bytes`` pattern.
    """
    if isinstance(value, (str, bytes)):
        pattern: Any = pattern_str  # str or bytes, compiled or not: re.match takes them all
        try:
            matched = re.match(pattern, value) is not None
        except TypeError:  # str value with a bytes pattern, or the other way round
            matched = False
        if matched:
            return
    raise RegexMissmatchException(value, pattern_str)


def validate_field_length(obj: Any, min_length: int | None = -1, max_length: int | None = -1) -> None:
    """Raise unless ``len(obj)`` is within ``min_length`` and ``max_length`` (both inclusive).

    A bound of ``-1`` (the default; also ``None`` or any negative number) means "no bound".
    :class:`TooSmallException` is raised below the minimum, :class:`TooLargeException` above
    the maximum. *obj* is anything with a length (a string, list, dict, ...); an object
    without one is a programming error and raises :class:`TypeError`.
    """
    length = len(obj)
    if min_length is not None and min_length >= 0 and length < min_length:
        raise TooSmallException(obj, min_length)
    if max_length is not None and max_length >= 0 and length > max_length:
        raise TooLargeException(obj, max_length)
