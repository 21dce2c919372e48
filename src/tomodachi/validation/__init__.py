"""Small field validators kept from the original tomodachi (``tomodachi.validation``)."""

from __future__ import annotations

from tomodachi.validation.validation import (
    FieldValidationError,
    RegexMismatchException,
    RegexMissmatchException,
    TooLargeException,
    TooSmallException,
    validate_field_length,
    validate_field_regex,
)

__all__ = [
    "FieldValidationError",
    "RegexMismatchException",
    "RegexMissmatchException",
    "TooLargeException",
    "TooSmallException",
    "validate_field_length",
    "validate_field_regex",
]
