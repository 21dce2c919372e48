"""Log level numbers and names.

Levels are the stdlib ``logging`` numbers, so a threshold set here means the same thing for
tomodachi loggers and for stdlib records (aiohttp, asyncio, user libraries).
"""

from __future__ import annotations

import logging

from tomodachi.errors import ConfigurationError

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "NOTSET",
    "WARN",
    "WARNING",
    "level_name",
    "method_name",
    "parse_level",
]

NOTSET = 0
DEBUG = 10
INFO = 20
WARNING = 30
WARN = WARNING
ERROR = 40
CRITICAL = 50
FATAL = CRITICAL

# A threshold above every real level: used by the "disabled" logger type, so that each logger call
# returns after a single integer comparison.
DISABLED = 1 << 30

_NAMES: dict[int, str] = {
    DEBUG: "debug",
    INFO: "info",
    WARNING: "warning",
    ERROR: "error",
    CRITICAL: "critical",
    NOTSET: "notset",
}

# Which logger method a stdlib record of a given level corresponds to; handed to processors as
# ``method_name`` and used to call custom loggers.
_METHODS: dict[int, str] = {
    DEBUG: "debug",
    INFO: "info",
    WARNING: "warning",
    ERROR: "error",
    CRITICAL: "critical",
}

_INVALID_LEVEL = "Invalid log level: {!r} (expected 'debug', 'info', 'warning', 'error' or 'critical')"


def parse_level(level: str | int) -> int:
    """Return the level number for a level name (any case, e.g. ``"info"``, ``"WARNING"``) or int.

    Raises :class:`~tomodachi.errors.ConfigurationError` for anything else.
    """
    if isinstance(level, bool):  # bool is an int subclass; True is not a log level.
        raise ConfigurationError(_INVALID_LEVEL.format(level))
    if isinstance(level, int):
        if level < 0:
            raise ConfigurationError(_INVALID_LEVEL.format(level))
        return level
    if isinstance(level, str):
        text = level.strip()
        if text.isdigit():
            return int(text)
        number = logging.getLevelNamesMapping().get(text.upper())
        if number is not None:
            return number
    raise ConfigurationError(_INVALID_LEVEL.format(level))


def level_name(level: int) -> str:
    """The lower-case name shown in output, e.g. ``"warning"``; custom levels use stdlib's name."""
    name = _NAMES.get(level)
    if name is None:
        name = logging.getLevelName(level).lower()
    return name


def method_name(level: int) -> str:
    """The logger method a record of *level* maps to (the nearest standard level at or below it)."""
    method = _METHODS.get(level)
    if method is None:
        method = "debug"
        for number in (CRITICAL, ERROR, WARNING, INFO):
            if level >= number:
                method = _METHODS[number]
                break
    return method
