"""Processors: structlog-style callables ``(logger, method_name, event_dict) -> event_dict``.

They run on every event after the bound context and the call's keywords are merged, before the
renderer. Any structlog processor that returns a dict (for example one that adds ``trace_id``)
can be passed to :func:`tomodachi.logging.configure` as well.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "MASK",
    "SECRET_KEY_PARTS",
    "EventDict",
    "Processor",
    "WrappedLogger",
    "is_drop_event",
    "is_secret_key",
    "mask_secrets",
    "wrapped_logger",
]

EventDict = dict[str, Any]
Processor = Callable[[Any, str, EventDict], EventDict]

MASK = "***"

#: A key whose lower-cased name contains any of these has its value replaced by :data:`MASK`.
SECRET_KEY_PARTS: tuple[str, ...] = ("password", "secret", "token", "authorization", "aws_secret_access_key")

# Keys already known not to be secret. Checking a whole event dict against this set is one C-level
# loop (``issuperset``), so the common case - the same few keys on every line - costs ~0.2 µs.
# Bounded so that events with ever-changing key names cannot grow it without limit.
_plain_keys: set[Any] = set()
_PLAIN_KEYS_LIMIT = 4096


def is_secret_key(key: object) -> bool:
    """True if *key* names a secret (case-insensitive substring match on :data:`SECRET_KEY_PARTS`)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def mask_secrets(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Replace the values of secret-looking keys (``password``, ``api_token``, ...) with ``'***'``."""
    if _plain_keys.issuperset(event_dict):
        return event_dict
    for key, value in event_dict.items():
        if key in _plain_keys:
            continue
        if is_secret_key(key):
            if value is not ...:  # Ellipsis means "leave this key out"; keep that meaning.
                event_dict[key] = MASK
        elif len(_plain_keys) < _PLAIN_KEYS_LIMIT:
            _plain_keys.add(key)
    return event_dict


def is_drop_event(exc: BaseException) -> bool:
    """True if *exc* is ``structlog.DropEvent`` (a processor's way to drop an event).

    Looked up in ``sys.modules`` so that tomodachi never imports structlog itself: if structlog was
    never imported, nothing can have raised its exception. Note that ``DropEvent`` derives from
    ``BaseException``, not ``Exception``.
    """
    module = sys.modules.get("structlog.exceptions")
    return module is not None and isinstance(exc, module.DropEvent)


class WrappedLogger:
    """What processors receive as their ``logger`` argument: an object with the logger's ``name``.

    One instance per name (see :func:`wrapped_logger`); structlog's ``add_logger_name`` processor
    works with it.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"WrappedLogger({self.name!r})"


_wrapped: dict[str, WrappedLogger] = {}


def wrapped_logger(name: str) -> WrappedLogger:
    """The shared :class:`WrappedLogger` for *name*."""
    wrapped = _wrapped.get(name)
    if wrapped is None:
        wrapped = WrappedLogger(name)
        if len(_wrapped) < _PLAIN_KEYS_LIMIT:
            _wrapped[name] = wrapped
    return wrapped
